package discoverytest

import (
	"io"
	"net"
	"sync"
	"time"
)

// front is the address clients dial: it forwards to the embedded server and
// can cut every connection at once, so that stopping etcd looks to clients
// like a crash or a network cut (etcd's own Close is graceful: open watch
// streams keep working for seconds while it waits for them).
type front struct {
	lis    net.Listener
	target string

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// listenFront listens on addr (retrying briefly while a just-closed socket
// lingers) and forwards to target.
func listenFront(addr, target string) (*front, error) {
	var lis net.Listener
	var err error
	for range 100 {
		if lis, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return nil, err
	}
	f := &front{lis: lis, target: target, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.accept()
	return f, nil
}

func (f *front) accept() {
	defer f.wg.Done()
	for {
		c, err := f.lis.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", f.target)
		if err != nil {
			c.Close()
			continue
		}
		if !f.track(c, u) {
			return
		}
		f.wg.Add(2)
		go f.pipe(c, u)
		go f.pipe(u, c)
	}
}

func (f *front) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil { // closed
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *front) pipe(dst, src net.Conn) {
	defer f.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// close stops accepting and cuts every connection at once.
func (f *front) close() {
	f.lis.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}
