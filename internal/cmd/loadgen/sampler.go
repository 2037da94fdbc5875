package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sample is the server's state at one moment. A value the server did not
// expose is -1.
type sample struct {
	at         time.Duration // since the run's clock base
	open       int64         // streams inside Serve at that moment
	finished   int64         // requests ended by then
	rss        float64       // process_resident_memory_bytes
	heapInuse  float64       // go_memstats_heap_inuse_bytes
	stackInuse float64       // go_memstats_stack_inuse_bytes: goroutine stacks, a per-stream cost
	goroutines float64       // go_goroutines
	vmRSS      float64       // /proc/<pid>/status VmRSS, bytes
	vmHWM      float64       // /proc/<pid>/status VmHWM, bytes
	ownHeap    float64       // loadgen's own live heap objects, bytes: a soak must not grow it
	series     metricSet     // every tokengate_* series, for deltas; dropped from the samples run keeps
	err        error
}

// metricSet is a scrape: series name with its labels as exposed → value.
type metricSet map[string]float64

// sampler reads the server's memory from its admin /metrics and, with a
// pid, from /proc.
type sampler struct {
	client  *http.Client
	url     string
	pid     int
	clk     clock
	load    *progress
	mu      sync.Mutex
	samples []sample
}

// progress is where the load stands, read by the sampler at each sample.
type progress struct {
	open     atomic.Int64 // requests inside Serve
	finished atomic.Int64 // requests whose Serve returned
}

func newSampler(admin string, pid int, clk clock, load *progress) *sampler {
	return &sampler{client: &http.Client{Timeout: 2 * time.Second}, url: "http://" + admin + "/metrics", pid: pid, clk: clk, load: load}
}

// take reads the server once.
func (s *sampler) take(ctx context.Context) sample {
	sm := sample{at: s.clk.now(), open: s.load.open.Load(), finished: s.load.finished.Load(), rss: -1, heapInuse: -1, stackInuse: -1, goroutines: -1, vmRSS: -1, vmHWM: -1}
	set, err := s.scrape(ctx)
	if err != nil {
		sm.err = err
	} else {
		sm.series = set
		sm.rss = set.get("process_resident_memory_bytes")
		sm.heapInuse = set.get("go_memstats_heap_inuse_bytes")
		sm.stackInuse = set.get("go_memstats_stack_inuse_bytes")
		sm.goroutines = set.get("go_goroutines")
	}
	sm.ownHeap = ownHeap()
	if s.pid > 0 {
		sm.vmRSS, sm.vmHWM, err = procStatus(s.pid)
		if err != nil && sm.err == nil {
			sm.err = err
		}
	}
	return sm
}

// run samples every interval until ctx ends; samples are kept for the report.
func (s *sampler) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sm := s.take(ctx)
			if ctx.Err() != nil {
				return // a scrape cut short is not a sample
			}
			s.keep(sm)
		}
	}
}

// keep adds a sample to those reported. Its series go: only the samples
// before and after the load are diffed, and a soak of hours would otherwise
// hold a full scrape per second.
func (s *sampler) keep(sm sample) {
	sm.series = nil
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, sm)
}

func (s *sampler) taken() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sample(nil), s.samples...)
}

func (s *sampler) scrape(ctx context.Context) (metricSet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("loadgen: metrics: %w", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("loadgen: metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("loadgen: metrics: GET %s: %s", s.url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the Prometheus text exposition format, keeping the
// gauges the report needs and every tokengate_ series. Lines are
// `name{labels} value [timestamp]`; label values may hold spaces, so the
// value is what follows the last closing brace.
func parseMetrics(r io.Reader) (metricSet, error) {
	set := metricSet{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		nameEnd := strings.IndexAny(line, "{ ")
		if nameEnd < 0 {
			continue
		}
		name := line[:nameEnd]
		if !strings.HasPrefix(name, "tokengate_") && name != "process_resident_memory_bytes" &&
			name != "go_memstats_heap_inuse_bytes" && name != "go_memstats_stack_inuse_bytes" && name != "go_goroutines" {
			continue
		}
		rest := line
		if line[nameEnd] == '{' {
			end := strings.LastIndexByte(line, '}')
			if end < 0 {
				return nil, fmt.Errorf("loadgen: metrics: unterminated labels in %q", line)
			}
			rest = line[end+1:]
		} else {
			rest = line[nameEnd:]
		}
		key := strings.TrimSpace(line[:len(line)-len(rest)])
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("loadgen: metrics: no value in %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("loadgen: metrics: value in %q: %w", line, err)
		}
		set[key] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("loadgen: metrics: %w", err)
	}
	return set, nil
}

// get is the series' value, -1 when absent.
func (m metricSet) get(key string) float64 {
	if v, ok := m[key]; ok {
		return v
	}
	return -1
}

// ownHeap is the bytes of loadgen's own heap objects, live or not yet
// swept, read without stopping the world.
func ownHeap() float64 {
	m := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(m)
	if m[0].Value.Kind() != metrics.KindUint64 {
		return -1
	}
	return float64(m[0].Value.Uint64())
}

// procStatus reads VmRSS and VmHWM (reported in kB) from /proc/<pid>/status.
func procStatus(pid int) (rss, hwm float64, err error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1, -1, fmt.Errorf("loadgen: proc status: %w", err)
	}
	defer f.Close()
	rss, hwm = -1, -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if err != nil {
			return -1, -1, fmt.Errorf("loadgen: proc status %s: %w", k, err)
		}
		if k == "VmRSS" {
			rss = kb * 1024
		} else {
			hwm = kb * 1024
		}
	}
	return rss, hwm, sc.Err()
}
