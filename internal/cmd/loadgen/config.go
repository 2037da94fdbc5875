package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"time"
)

// config is one load run, as the flags describe it.
type config struct {
	Target         string        // ext_proc gRPC address, loopback only
	Admin          string        // admin HTTP address, loopback only
	Streams        int           // concurrent HTTP exchanges
	Requests       int           // soak: requests in all, each stream starting the next as one ends; 0 = one per stream
	Accounts       int           // distinct x-user-email values
	Tokens         int           // content chunks per streamed answer
	ChunkInterval  time.Duration // pause before each content and finish chunk
	Ramp           time.Duration // stream starts are spread evenly over it
	Duration       time.Duration // cap on the load phase; everything open then is cancelled
	SampleInterval time.Duration // memory sampling period
	MessageTimeout time.Duration // Envoy's per-message timeout (E10)
	Conns          int           // gRPC connections, like Envoy's per-worker pools
	PID            int           // server process whose /proc status is also read; 0 = none
	CheckBalance   bool          // verify settlement through the admin API afterwards
	BodyFile       string        // request body to send instead of the generated one
	RunID          string        // names accounts and request ids of this run
	Timeline       bool          // print every memory sample
	RSSBudgetMB    float64       // the budget the peak RSS is compared with, in MB (10^6 bytes)
}

// parseFlags reads args (without the program name) into a config. Errors
// name the flag; -h prints usage to out and returns flag.ErrHelp.
func parseFlags(args []string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.Target, "target", "127.0.0.1:50051", "tokengate ext_proc gRPC `address` (loopback only)")
	fs.StringVar(&c.Admin, "admin", "127.0.0.1:8081", "tokengate admin HTTP `address` (loopback only)")
	fs.IntVar(&c.Streams, "streams", 1000, "concurrent streamed chat completions")
	fs.IntVar(&c.Requests, "requests", 0, "soak: run this many requests in all, each stream starting the next as one ends (request k charges account k % -accounts); 0 = one request per stream")
	fs.IntVar(&c.Accounts, "accounts", 100, "distinct x-user-email accounts the requests are spread over")
	fs.IntVar(&c.Tokens, "tokens", 100, "content chunks (one token each) per streamed answer")
	fs.DurationVar(&c.ChunkInterval, "chunk-interval", 100*time.Millisecond, "upstream pause before each content chunk")
	fs.DurationVar(&c.Ramp, "ramp", 2*time.Second, "stream starts are spread evenly over this")
	fs.DurationVar(&c.Duration, "duration", 60*time.Second, "cap on the load phase; streams still open are then cancelled (default 30m with -requests)")
	fs.DurationVar(&c.SampleInterval, "sample-interval", time.Second, "how often the server's memory is sampled")
	fs.DurationVar(&c.MessageTimeout, "message-timeout", 200*time.Millisecond, "Envoy's ext_proc message_timeout")
	fs.IntVar(&c.Conns, "conns", 1, "gRPC connections the streams are spread over (Envoy opens one per worker)")
	fs.IntVar(&c.PID, "pid", 0, "also read VmRSS/VmHWM from /proc/`pid`/status of the server")
	fs.BoolVar(&c.CheckBalance, "check-balance", false, "afterwards, check every account's balance against the usage reported")
	fs.StringVar(&c.BodyFile, "body", "", "chat completion request `file` to send instead of the generated ~4 KB one (stream is forced on)")
	fs.StringVar(&c.RunID, "run-id", "", "names this run's accounts and request ids; empty → random")
	fs.BoolVar(&c.Timeline, "timeline", false, "print every memory sample")
	fs.Float64Var(&c.RSSBudgetMB, "rss-budget", 60, "RSS budget in MB (10^6 bytes) the peak is compared with; reported, does not change the exit status")
	fs.Usage = func() {
		fmt.Fprintf(out, "usage: loadgen [flags]\n\nOpens -streams concurrent metered chat completions through the Envoy emulator\nagainst a running `tokengate serve`, samples its memory, and reports. With\n-requests it soaks: the streams keep starting requests until that many ran.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.Requests > 0 && !isSet(fs, "duration") {
		// A soak ends when its requests are done; the cap only guards
		// against one that stalls, so it must not be what ends it.
		c.Duration = soakDuration
	}
	return c, c.validate()
}

// soakDuration is -duration's default with -requests.
const soakDuration = 30 * time.Minute

// isSet reports whether the flag was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// soak reports whether the run is a soak: streams loop until -requests
// requests have started, instead of running one request each.
func (c *config) soak() bool { return c.Requests > 0 }

// planned is how many requests the run means to make.
func (c *config) planned() int {
	if c.soak() {
		return c.Requests
	}
	return c.Streams
}

// validate checks the numbers and that both addresses are loopback, and
// spells localhost as 127.0.0.1 so nothing is ever resolved elsewhere.
func (c *config) validate() error {
	var err error
	if c.Target, err = loopback(c.Target); err != nil {
		return fmt.Errorf("-target: %w", err)
	}
	if c.Admin, err = loopback(c.Admin); err != nil {
		return fmt.Errorf("-admin: %w", err)
	}
	switch {
	case c.Streams < 1:
		return errors.New("-streams: must be at least 1")
	case c.Requests < 0:
		return errors.New("-requests: must not be negative")
	case c.Accounts < 1:
		return errors.New("-accounts: must be at least 1")
	case c.Tokens < 1:
		return errors.New("-tokens: must be at least 1")
	case c.ChunkInterval < 0:
		return errors.New("-chunk-interval: must not be negative")
	case c.Ramp < 0:
		return errors.New("-ramp: must not be negative")
	case c.Duration <= 0:
		return errors.New("-duration: must be positive")
	case c.SampleInterval <= 0:
		return errors.New("-sample-interval: must be positive")
	case c.MessageTimeout <= 0:
		return errors.New("-message-timeout: must be positive")
	case c.Conns < 1:
		return errors.New("-conns: must be at least 1")
	case c.PID < 0:
		return errors.New("-pid: must not be negative")
	}
	return nil
}

// loopback returns addr as host:port with a loopback IP literal, or an
// error: the tool puts a thousand streams' worth of load on whatever it
// points at, so it refuses anything but this machine.
func loopback(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("%q is not a loopback address (127.0.0.0/8 or ::1); loadgen only loads a tokengate on this machine", addr)
	}
	return net.JoinHostPort(ip.String(), port), nil
}
