//go:build !linux

package main

import "time"

// receive reads each viewer's socket in a goroutine of its own: the epoll
// receiver (receive_linux.go) is Linux only, and measurements are taken on
// Linux. The goroutines end when the sockets close.
func receive(viewers []*viewer, _ time.Duration) (stop func(), err error) {
	for _, v := range viewers {
		go func() {
			if !v.feed(nil, readNow()) {
				return
			}
			buf := make([]byte, 64<<10)
			for {
				n, err := v.conn.Read(buf)
				if n > 0 && !v.feed(buf[:n], readNow()) {
					return
				}
				if err != nil {
					v.fail(err)
					return
				}
			}
		}()
	}
	return func() {}, nil
}
