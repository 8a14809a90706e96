package draintest

import (
	"bytes"
	"io"
	"net/http"
)

// HTTPHandler is an HTTPS drain receiver: an http.Handler that takes POSTs
// whose bodies are RFC 5424 messages one after the other, each ending in a
// newline (Loggregator's HTTPS batch format), and keeps them parsed. Serve
// it with net/http/httptest. Status, when set, answers every request with
// that status instead (to play a failing drain). Safe for concurrent use.
type HTTPHandler struct {
	store
	requests int
	status   int
}

// NewHTTPHandler returns an empty HTTPHandler.
func NewHTTPHandler() *HTTPHandler { return &HTTPHandler{store: newStore()} }

// SetStatus makes every later request fail with code (0 restores normal
// answers); failed requests keep nothing.
func (h *HTTPHandler) SetStatus(code int) {
	h.mu.Lock()
	h.status = code
	h.mu.Unlock()
}

// ServeHTTP implements http.Handler.
func (h *HTTPHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 16*MaxMessage))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests++
	if h.status != 0 {
		w.WriteHeader(h.status)
		return
	}
	for _, b := range SplitMessages(body) {
		m, err := Parse(b)
		if err != nil {
			h.addLocked(nil)
			continue
		}
		h.addLocked(&m)
	}
}

// SplitMessages splits a body of newline-terminated RFC 5424 messages. A
// newline inside a message is kept unless what follows it starts a new
// message ("<PRI>1 ").
func SplitMessages(body []byte) [][]byte {
	var out [][]byte
	start := 0
	for i := 0; i < len(body); i++ {
		if body[i] == '\n' && (i+1 == len(body) || startsMessage(body[i+1:])) {
			out = append(out, body[start:i+1])
			start = i + 1
		}
	}
	if start < len(body) {
		out = append(out, body[start:])
	}
	return out
}

func startsMessage(b []byte) bool {
	if len(b) < 5 || b[0] != '<' {
		return false
	}
	i := 1
	for i < len(b) && i <= 3 && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i > 1 && bytes.HasPrefix(b[i:], []byte(">1 "))
}

// Requests counts POSTs, failed ones included.
func (h *HTTPHandler) Requests() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests
}
