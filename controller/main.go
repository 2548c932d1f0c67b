// Command tonewall is the Tonewall controller: FreeSWITCH hands it each call
// over the outbound Event Socket, and it runs protected card captures on
// those calls so the agent never hears, sees or records the card.
//
// Every flag can also be set with an environment variable: TONEWALL_ and
// the flag name in upper case with dashes as underscores (--esl-addr is
// TONEWALL_ESL_ADDR). A flag on the command line wins.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/tonewall/tonewall/controller/daemon"
	"github.com/tonewall/tonewall/pluginsdk"
	"github.com/tonewall/tonewall/pluginsdk/example"
)

func main() {
	// "tonewall plugin example": this executable serving the embedded
	// example payment provider, launched by the controller itself.
	if len(os.Args) == 3 && os.Args[1] == "plugin" && os.Args[2] == "example" {
		example.Serve()
		return
	}
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tonewall:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr *os.File) error {
	cfg, err := parseFlags(args, os.LookupEnv, stderr)
	if err != nil {
		return err
	}
	if cfg == nil { // --help
		return nil
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(cfg.gcPercent)
	}
	log := newLogger(cfg.logFormat, cfg.logLevel, stderr)
	cfg.opts.Logger = log
	defer pluginsdk.CleanupClients()
	src, err := cfg.secretSource(context.Background(), log)
	if err != nil {
		return err
	}
	cfg.opts.Secrets = src
	d, err := daemon.New(cfg.opts)
	if err != nil {
		return err
	}
	if err := d.Start(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.opts.ShutdownTimeout)
	defer cancel()
	return d.Shutdown(sctx)
}

func newLogger(format string, level slog.Level, w *os.File) *slog.Logger {
	o := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}
