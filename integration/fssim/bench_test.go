package fssim

import (
	"context"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// BenchmarkHeldCalls measures the memory the simulator keeps per bridged
// call, socket pairs and the discarding peer included. Run with a fixed
// count, e.g. -benchtime=2000x (each call holds two file descriptors).
func BenchmarkHeldCalls(b *testing.B) {
	sw := New(Options{})
	defer sw.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	conns := make(chan net.Conn, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				close(conns)
				return
			}
			conns <- c
		}
	}()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	var peers []net.Conn
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		call, err := sw.Dial(ctx, ln.Addr().String(), CallOptions{})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		c := <-conns
		peers = append(peers, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			discard(c)
		}()
		if _, err := io.WriteString(c, opening(call.A(), newUUID())); err != nil {
			b.Fatal(err)
		}
		ctx, cancel = context.WithTimeout(context.Background(), testTimeout)
		err = call.WaitBridged(ctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	time.Sleep(50 * time.Millisecond)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if sw.Calls() != b.N {
		b.Fatalf("Calls() = %d, want %d", sw.Calls(), b.N)
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "heapB/call")
	b.ReportMetric(float64(after.StackInuse-before.StackInuse)/float64(b.N), "stackB/call")
	sw.Close()
	for _, c := range peers {
		c.Close()
	}
	ln.Close()
}

// opening is a controller's usual first commands, sent in one write.
func opening(a, b string) string {
	return "connect\n\nlinger\n\nevent plain DTMF CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP_COMPLETE CHANNEL_BRIDGE CHANNEL_UNBRIDGE BACKGROUND_JOB\n\n" +
		"filter Unique-ID " + a + "\n\nfilter Unique-ID " + b + "\n\n" +
		"sendmsg\ncall-command: execute\nexecute-app-name: spandsp_start_dtmf\n\n" +
		"sendmsg\ncall-command: execute\nexecute-app-name: bridge\nexecute-app-arg: {origination_uuid=" + b + "}sofia/internal/7200@127.0.0.1\n\n"
}

// discard reads c until it fails, with a small buffer so that the peer adds
// little to the memory measured.
func discard(c net.Conn) {
	buf := make([]byte, 256)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// drainedCall places a bridged call whose controller discards everything
// the switch sends, so that only the simulator's cost is measured.
func drainedCall(tb testing.TB, sw *Switch) *Call {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	call, err := sw.Dial(ctx, ln.Addr().String(), CallOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	c := <-accepted
	if c == nil {
		tb.Fatal("accept failed")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		discard(c)
	}()
	tb.Cleanup(func() {
		c.Close()
		<-done
	})
	if _, err := io.WriteString(c, opening(call.A(), newUUID())); err != nil {
		tb.Fatal(err)
	}
	if err := call.WaitBridged(ctx); err != nil {
		tb.Fatal(err)
	}
	return call
}

// BenchmarkDTMFEvent measures a key press: media model plus one plain DTMF
// event rendered and written to the controller.
func BenchmarkDTMFEvent(b *testing.B) {
	sw := New(Options{})
	defer sw.Close()
	call := drainedCall(b, sw)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := call.Press(ctx, '5', RFC2833); err != nil {
			b.Fatal(err)
		}
		if i%1024 == 1023 {
			call.mu.Lock()
			call.presses = call.presses[:0]
			call.mu.Unlock()
		}
	}
}

// BenchmarkRenderBridgeEvent measures building the largest common event,
// CHANNEL_BRIDGE with all channel variables, without any socket.
func BenchmarkRenderBridgeEvent(b *testing.B) {
	sw := New(Options{})
	defer sw.Close()
	call := drainedCall(b, sw)
	bID := call.B()
	call.mu.Lock()
	a := call.a
	call.mu.Unlock()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		call.mu.Lock()
		e := channelEvent("CHANNEL_BRIDGE", a, true)
		e.pre = []header{{"Bridge-A-Unique-ID", a.uuid}, {"Bridge-B-Unique-ID", bID}}
		e.seq, e.at = uint64(i), time.Now()
		_, _ = e.wire(sw, "plain")
		e.release()
		call.mu.Unlock()
	}
}

// BenchmarkRenderDTMFEvent measures building a DTMF event of a bridged leg,
// the event sent for every key press, without any socket.
func BenchmarkRenderDTMFEvent(b *testing.B) {
	sw := New(Options{})
	defer sw.Close()
	call := drainedCall(b, sw)
	call.mu.Lock()
	a := call.a
	call.mu.Unlock()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		call.mu.Lock()
		e := channelEvent("DTMF", a, false)
		e.post = []header{{"DTMF-Digit", "5"}, {"DTMF-Duration", "2000"}, {"DTMF-Source", "RTP"}}
		e.seq, e.at = uint64(i), time.Now()
		_, _ = e.wire(sw, "plain")
		e.release()
		call.mu.Unlock()
	}
}
