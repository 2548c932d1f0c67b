// Command loadtest measures the controller under many simultaneous calls
// from the FreeSWITCH simulator:
//
//   - calls held: N idle calls bridged at once, with the controller's
//     memory per idle call (the simulator runs in a child process, so the
//     figure is the controller's alone);
//   - captures: M captures at once, each keying a whole card, reporting
//     captures per second and the latency from a digit leaving the
//     simulator to the controller's progress event for it (p50, p99).
//
// Everything runs on loopback and stops by itself.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

// childEnv marks the re-executed child that plays the switch.
const childEnv = "TONEWALL_LOADTEST_SWITCH"

func main() {
	if addr := os.Getenv(childEnv); addr != "" {
		if err := runSwitch(addr, os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "switch:", err)
			os.Exit(1)
		}
		return
	}
	calls := pflag.Int("calls", 10000, "idle calls to hold at once (0 skips)")
	captures := pflag.Int("captures", 1000, "captures to run at once (0 skips)")
	idle := pflag.Int("idle", 9000, "idle calls held while the captures run (so that 10,000 calls are up)")
	window := pflag.Duration("event-reorder-window", 0, "controller's event reorder window (0: its default)")
	gcPercent := pflag.Int("gc-percent", 400, "garbage collector target, as the controller's --gc-percent (GOGC in the environment wins)")
	gap := pflag.Duration("key-gap", 300*time.Millisecond, "pause between a caller's key presses")
	cpuProfile := pflag.String("cpuprofile", "", "write a CPU profile of the captures phase to this file")
	memProfile := pflag.String("memprofile", "", "write an allocation profile to this file at the end")
	pflag.Parse()
	if *memProfile != "" {
		defer func() {
			f, err := os.Create(*memProfile)
			if err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(*gcPercent)
	}
	raiseFileLimit(4*(*calls) + 4*(*captures+*idle) + 1024)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	if *calls > 0 {
		r, err := holdCalls(ctx, log, *calls, *window)
		if err != nil {
			fmt.Fprintln(os.Stderr, "calls:", err)
			os.Exit(1)
		}
		fmt.Println(r)
	}
	if *captures > 0 {
		r, err := runCaptures(ctx, log, *captures, *idle, *window, *gap)
		if err != nil {
			fmt.Fprintln(os.Stderr, "captures:", err)
			os.Exit(1)
		}
		fmt.Println(r)
	}
}

// raiseFileLimit lifts the open-file limit so that many calls fit: each
// call is a socket at both ends.
func raiseFileLimit(n int) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	if l.Cur >= uint64(n) {
		return
	}
	l.Cur = uint64(n)
	if l.Max < l.Cur {
		l.Max = l.Cur // needs privilege; harmless if refused
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		fmt.Fprintf(os.Stderr, "warning: cannot raise the open-file limit to %d: %v\n", n, err)
	}
}
