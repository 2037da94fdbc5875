package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/iasolaris/tokengate/envoy/envoysim"
	"github.com/iasolaris/tokengate/internal/fakeupstream"
)

// front is what `tokengate dev` puts before the app: the Envoy emulator's
// HTTP listener, talking ext_proc to the app over loopback gRPC exactly as
// Envoy would, and, unless an upstream URL is configured, the fake OpenAI
// upstream behind it.
type front struct {
	http     *http.Server
	ln       net.Listener
	conn     *grpc.ClientConn
	fake     *fakeupstream.Server
	fakeHTTP *http.Server
	fakeLn   net.Listener
	upstream *url.URL
}

// newFront builds the dev front and binds its listeners. On failure it
// releases what it acquired and returns one line naming the setting to
// change. envoy tunes the emulator beyond what dev always sets (no route
// timeout, the log); its zero value is Envoy's defaults, which `tokengate
// dev` uses.
func newFront(a *app, listenAddr, upstream string, log *slog.Logger, envoy envoysim.Options) (_ *front, err error) {
	// f is not the result: `return nil, err` must not clear what the
	// deferred close needs.
	f := &front{}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	if upstream == "" {
		f.fake = fakeupstream.New(fakeupstream.Options{Logger: log})
		if f.fakeLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("fake upstream: %w", err)
		}
		f.fakeHTTP = &http.Server{Handler: f.fake, ReadHeaderTimeout: 5 * time.Second}
		upstream = "http://" + f.fakeLn.Addr().String()
	}
	if f.upstream, err = url.Parse(upstream); err != nil || f.upstream.Host == "" ||
		(f.upstream.Scheme != "http" && f.upstream.Scheme != "https") {
		return nil, fmt.Errorf("dev.upstream: want an http(s) URL, got %q (set --upstream, dev.upstream or %s)", upstream, envName("dev.upstream"))
	}
	f.conn, err = grpc.NewClient(loopback(a.grpcLn.Addr()), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("dial ext_proc: %w", err)
	}
	// Long streams are normal for LLMs; the front behaves like a route with
	// `timeout: 0s` (envoy-ext-proc.md E59).
	envoy.RouteTimeout, envoy.Logger = -1, log
	filter := envoysim.New(extprocv3.NewExternalProcessorClient(f.conn), envoy)
	f.http = &http.Server{Handler: envoysim.NewFront(filter, f.upstream, envoysim.FrontOptions{Logger: log}), ReadHeaderTimeout: 5 * time.Second}
	if f.ln, err = listen("dev.listen", listenAddr); err != nil {
		return nil, err
	}
	return f, nil
}

// loopback turns a listener's address (possibly the unspecified ::) into one
// a client on this machine can dial.
func loopback(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return addr.String()
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
}

// serve runs the listeners until shutdown; failures go to failed.
func (f *front) serve(failed chan<- error) {
	if f.fakeHTTP != nil {
		go func() {
			if err := f.fakeHTTP.Serve(f.fakeLn); !errors.Is(err, http.ErrServerClosed) {
				failed <- fmt.Errorf("fake upstream: %w", err)
			}
		}()
	}
	go func() {
		if err := f.http.Serve(f.ln); !errors.Is(err, http.ErrServerClosed) {
			failed <- fmt.Errorf("dev front: %w", err)
		}
	}()
}

func (f *front) shutdown(ctx context.Context) error {
	var errs []error
	if f.http != nil {
		errs = append(errs, f.http.Shutdown(ctx))
	}
	if f.fakeHTTP != nil {
		errs = append(errs, f.fakeHTTP.Shutdown(ctx))
	}
	f.close()
	return errors.Join(errs...)
}

// close releases what newFront acquired.
func (f *front) close() {
	for _, ln := range []net.Listener{f.ln, f.fakeLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if f.conn != nil {
		_ = f.conn.Close()
	}
}

// runDev is `tokengate dev`.
func runDev(ctx context.Context, cfg *Config, stdout, logOut io.Writer) error {
	log := newLogger(cfg, logOut)
	redis.SetLogger(redisLog{log}) // go-redis has one logger per process
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	f, err := newFront(a, cfg.Dev.Listen, cfg.Dev.Upstream, log, envoysim.Options{})
	if err != nil {
		a.release()
		return err
	}
	failed := make(chan error, 2)
	f.serve(failed)
	fmt.Fprintf(stdout, `tokengate dev
  chat completions: http://%s/v1/chat/completions  (header %s names who pays)
  upstream:         %s
  admin:            http://%s/api/v1/accounts/{email}/balance
`, loopback(f.ln.Addr()), cfg.Identity.UserHeader, f.upstream, loopback(a.adminLn.Addr()))

	appCtx, stopApp := context.WithCancel(ctx)
	defer stopApp()
	go func() {
		select {
		case err := <-failed:
			log.Error("dev front failed; shutting down", "err", err)
			stopApp()
		case <-appCtx.Done():
		}
	}()
	// The front stops beside the app: its requests end as their streams do.
	frontStopped := make(chan error, 1)
	go func() {
		<-appCtx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		frontStopped <- f.shutdown(sctx)
	}()
	err = a.run(appCtx)
	stopApp()
	return errors.Join(err, <-frontStopped)
}
