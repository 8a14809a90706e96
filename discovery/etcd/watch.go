package etcd

import (
	"context"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// startWatch runs client.Watch on a goroutine of its own, counted in wg, and
// forwards the responses. clientv3's Watch does not return until its gRPC
// stream to etcd is open, which lasts as long as etcd is unreachable: a loop
// that must also notice etcd going down (the Registrar's key check, the
// Watcher's periodic read) cannot call it inline, or it hangs for the whole
// outage. The returned channel is closed when the watch ends or ctx ends;
// after cancelling ctx, wg.Wait returns once the goroutine has ended.
func startWatch(ctx context.Context, wg *sync.WaitGroup, client *clientv3.Client, key string, opts ...clientv3.OpOption) <-chan clientv3.WatchResponse {
	out := make(chan clientv3.WatchResponse)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(out)
		wch := client.Watch(ctx, key, opts...)
		for {
			select {
			case <-ctx.Done():
				return
			case resp, ok := <-wch:
				if !ok {
					return
				}
				select {
				case out <- resp:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
