package telemetry

import (
	"bufio"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Handler serves src's metrics in the Prometheus text exposition format
// (version 0.0.4). Metric names are sluice's (ingress, dropped, ...), so the
// queries operators use for Loggregator work unchanged; constLabels (for
// example source_id) are added to every series.
func Handler(src Source, constLabels map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		bw := bufio.NewWriter(w)
		writeText(bw, src.Metrics(nil), constLabels)
		bw.Flush()
	})
}

func writeText(w *bufio.Writer, ms []Metric, constLabels map[string]string) {
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	typed := map[string]bool{}
	for _, m := range ms {
		name := promName(m.Name)
		if !typed[name] {
			typed[name] = true
			typ := "counter"
			if m.Kind == Gauge {
				typ = "gauge"
			}
			w.WriteString("# TYPE " + name + " " + typ + "\n")
		}
		w.WriteString(name)
		labels := make(map[string]string, len(constLabels)+len(m.Tags))
		for k, v := range constLabels {
			labels[k] = v
		}
		for k, v := range m.Tags {
			labels[k] = v
		}
		if len(labels) > 0 {
			w.WriteByte('{')
			for i, k := range sortedKeys(labels) {
				if i > 0 {
					w.WriteByte(',')
				}
				w.WriteString(promName(k))
				w.WriteString(`="`)
				w.WriteString(escapeLabel(labels[k]))
				w.WriteByte('"')
			}
			w.WriteByte('}')
		}
		w.WriteByte(' ')
		w.WriteString(strconv.FormatFloat(m.Value, 'g', -1, 64))
		w.WriteByte('\n')
	}
}

// promName maps a name onto Prometheus' [a-zA-Z_:][a-zA-Z0-9_:]*.
func promName(s string) string {
	var b strings.Builder
	for i, r := range s {
		ok := r == '_' || r == ':' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}
