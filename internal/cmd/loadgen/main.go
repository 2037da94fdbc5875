// Command loadgen shows whether tokengate meets its performance budget
// (1,000 concurrent open streams under 60 MB RSS, and its per-message
// latencies) by putting that load on a running `tokengate serve`: it drives
// N concurrent streamed chat completions through the Envoy emulator
// (envoy/envoysim) against an in-process upstream, samples the server's
// memory from its admin port, and prints a report. Speed is shown by running
// it by hand, never by tests that time themselves. It only talks to
// loopback addresses. See README.md beside it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	// Ctrl-C ends the load phase early; the report of what ran is still printed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if !rep.ok() {
		os.Exit(1)
	}
}
