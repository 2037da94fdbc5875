// Package redistest starts redis-server processes of a test's own, on free
// loopback ports, for tests that need a server they can configure or stop
// (an eviction policy, a Redis Cluster, an outage) without touching the
// shared Redis at 127.0.0.1:6379. Only tests import it.
package redistest

import (
	"bufio"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Server is a redis-server a test started and stops in its cleanup.
type Server struct {
	Addr        string // 127.0.0.1:port
	Port        int
	ClusterPort int // 0 unless started in cluster mode
}

// Start starts a redis-server of its own on a free port, with no
// persistence, and returns once it accepts connections. args are added to
// the command line; cluster mode also gets a free cluster bus port. A port
// taken between choosing and binding it is retried with another.
func Start(t testing.TB, cluster bool, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not on PATH (.ci/run installs it): skipping the test that needs servers of its own")
	}
	dir := t.TempDir()
	var out string
	for range 5 {
		s := &Server{Port: freePort(t)}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
		argv := []string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir, "--logfile", "", "--daemonize", "no"}
		if cluster {
			s.ClusterPort = freePort(t)
			argv = append(argv, "--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(s.ClusterPort),
				"--cluster-config-file", dir+"/nodes-"+strconv.Itoa(s.Port)+".conf")
		}
		var ready bool
		if ready, out = run(t, bin, append(argv, args...)); ready {
			return s
		}
		if !strings.Contains(out, "Address already in use") {
			break
		}
	}
	t.Fatalf("redis-server did not start:\n%s", out)
	return nil
}

// run starts bin and waits, at most ten seconds, for it to log that it
// accepts connections. It reports whether it did and, if not, what it said
// before it exited. A started server is killed in t.Cleanup, with no
// context of the test's, which is already canceled by then.
func run(t testing.TB, bin string, argv []string) (bool, string) {
	t.Helper()
	cmd := exec.Command(bin, argv...)
	// Its log goes through a pipe of ours, read to the end, so the server
	// never stalls on a full pipe and Wait never waits on a reader.
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = pw.Close()
		close(exited)
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	var said strings.Builder
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, open := <-lines:
			if !open {
				<-exited
				return false, said.String()
			}
			said.WriteString(line + "\n")
			if strings.Contains(line, "Ready to accept connections") {
				go func() {
					for range lines {
					}
				}()
				t.Cleanup(stop)
				return true, ""
			}
		case <-timeout:
			go func() {
				for range lines {
				}
			}()
			stop()
			t.Fatalf("redis-server %v is not ready after 10 s:\n%s", argv, said.String())
		}
	}
}

// freePort returns a TCP port nothing listens on right now. redis-server
// cannot take over a listener, so the port is released before it binds;
// startRedis retries if another process took it meanwhile.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
