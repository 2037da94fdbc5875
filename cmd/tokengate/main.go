// Command tokengate puts per-user token quotas in front of LLM traffic as
// Envoy's external processor.
//
//	tokengate serve [--config FILE]   ext_proc on :50051, admin on :8081
//	tokengate dev   [--config FILE] [--upstream URL]
//	                                  serve, plus an Envoy emulator on :10000
//	                                  in front of a fake OpenAI upstream
//	tokengate version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// gcPercent is the collector's target unless GOGC says otherwise. tokengate's
// live heap is small (tens of KB per open stream) and a sidecar's memory is
// reserved in every pod, so collecting at half the default growth buys a
// lower resident size for a CPU cost that stays far below one core's percent.
const gcPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		// One line, whatever the error: a supervisor may show only the last.
		fmt.Fprintln(os.Stderr, "tokengate:", oneLine(err))
		os.Exit(1)
	}
}

const usage = `usage: tokengate <command> [flags]

commands:
  serve     run the ext_proc server and the admin port
  dev       serve, plus an Envoy emulator on dev.listen (:10000) in front of a
            fake OpenAI-compatible upstream (or --upstream URL)
  version   print the version

Configuration: --config FILE (YAML) and TOKENGATE_* environment variables,
e.g. TOKENGATE_REDIS_URL=redis://127.0.0.1:6379/0. Without redis.url the
ledger is in memory.
`

// run is main without the process: tests call it with their own context and
// output.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", os.Getenv("TOKENGATE_CONFIG"), "YAML configuration file")
	var upstream *string
	if cmd == "dev" {
		upstream = fs.String("upstream", "", "OpenAI-compatible upstream URL (default: a built-in fake)")
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "tokengate", version)
		return nil
	case "serve", "dev":
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	flagged, commandDefaults := map[string]any{}, map[string]any{}
	if upstream != nil && *upstream != "" {
		flagged["dev.upstream"] = *upstream
	}
	if cmd == "dev" {
		// A developer reads the log in a terminal; the file or the
		// environment can still ask for JSON.
		commandDefaults["log.format"] = "text"
	}
	cfg, err := loadConfig(*configFile, commandDefaults, flagged)
	if err != nil {
		return err
	}
	if cmd == "dev" {
		return runDev(ctx, cfg, stdout, stderr)
	}
	return runServe(ctx, cfg, stderr, nil)
}
