// River's harness for Cutover's peer benchmark (`python -m bench.peers`).
//
// One run is one scenario in a fresh database: migrate River's schema, schedule the jobs (a burst all
// due at one instant T, or a steady rate spread evenly from T), plus control jobs due an hour later,
// start one client whose no-op worker records (job id, scheduled_at, when it ran), wait until every
// job ran, and print one JSON summary on stdout. Progress goes to stderr.
//
// Lateness is the wall clock when the worker ran (time.Now, same machine as PostgreSQL) minus the
// job's scheduled_at as River stored it; T comes from the database clock.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

type NoopArgs struct {
	Control bool `json:"control,omitempty"`
}

func (NoopArgs) Kind() string { return "noop" }

type run struct {
	id        int64
	control   bool
	scheduled time.Time
	ran       time.Time
}

type recorder struct {
	mu       sync.Mutex
	runs     []run
	seen     map[int64]bool
	expected int
	handled  int
	done     chan struct{}
}

func (r *recorder) record(id int64, control bool, scheduled time.Time, ran time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = append(r.runs, run{id, control, scheduled, ran})
	if !control && !r.seen[id] {
		r.handled++
		if r.handled == r.expected {
			close(r.done)
		}
	}
	r.seen[id] = true
}

type NoopWorker struct {
	river.WorkerDefaults[NoopArgs]
	rec *recorder
}

func (w *NoopWorker) Work(ctx context.Context, job *river.Job[NoopArgs]) error {
	w.rec.record(job.ID, job.Args.Control, job.ScheduledAt, time.Now())
	return nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "  river: "+format+"\n", args...)
}

func main() {
	dsn := flag.String("dsn", "", "PostgreSQL URL of River's own database")
	scenario := flag.String("scenario", "burst", "burst or steady")
	jobs := flag.Int("jobs", 100_000, "burst: jobs due at T")
	rate := flag.Int("rate", 2000, "steady: jobs coming due per second")
	seconds := flag.Int("seconds", 60, "steady: for how long")
	control := flag.Int("control", 1000, "control jobs due an hour after T (must never run)")
	lead := flag.Float64("lead", 10, "T is this many seconds after the database clock at the start")
	timeout := flag.Float64("timeout", 600, "give up this many seconds after the last job is due")
	maxWorkers := flag.Int("max-workers", river.QueueNumWorkersMax, "QueueConfig.MaxWorkers")
	pollInterval := flag.Duration("fetch-poll-interval", 5*time.Millisecond, "Config.FetchPollInterval")
	cooldown := flag.Duration("fetch-cooldown", time.Millisecond, "Config.FetchCooldown")
	poolSize := flag.Int("pool", 16, "pgxpool MaxConns")
	flag.Parse()
	ctx := context.Background()

	config, err := pgxpool.ParseConfig(*dsn)
	must(err)
	config.MaxConns = int32(*poolSize)
	pool, err := pgxpool.NewWithConfig(ctx, config)
	must(err)
	defer pool.Close()
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	must(err)
	_, err = migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	must(err)

	var now time.Time
	must(pool.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&now))
	start := now.Add(time.Duration(*lead * float64(time.Second)))
	var due []time.Time
	duration := 0.0
	if *scenario == "burst" {
		due = make([]time.Time, *jobs)
		for i := range due {
			due[i] = start
		}
	} else {
		total := *rate * *seconds
		due = make([]time.Time, total)
		for i := range due {
			due[i] = start.Add(time.Duration(float64(i) / float64(*rate) * float64(time.Second)))
		}
		duration = float64(*seconds)
	}

	rec := &recorder{seen: make(map[int64]bool, len(due)), expected: len(due), done: make(chan struct{})}
	rec.runs = make([]run, 0, len(due))
	workers := river.NewWorkers()
	river.AddWorker(workers, &NoopWorker{rec: rec})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: *maxWorkers}},
		Workers:           workers,
		FetchPollInterval: *pollInterval,
		FetchCooldown:     *cooldown,
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	must(err)

	progress("scheduling %d jobs (+%d control) ...", len(due), *control)
	params := make([]river.InsertManyParams, 0, len(due)+*control)
	for _, at := range due {
		params = append(params, river.InsertManyParams{Args: NoopArgs{}, InsertOpts: &river.InsertOpts{ScheduledAt: at}})
	}
	later := start.Add(time.Hour)
	for i := 0; i < *control; i++ {
		params = append(params, river.InsertManyParams{Args: NoopArgs{Control: true}, InsertOpts: &river.InsertOpts{ScheduledAt: later}})
	}
	for offset := 0; offset < len(params); offset += 10_000 {
		_, err := client.InsertManyFast(ctx, params[offset:min(offset+10_000, len(params))])
		must(err)
	}
	params = nil

	must(client.Start(ctx))
	margin := time.Until(start).Seconds()
	progress("client started %.1f s before T; waiting ...", margin)
	deadline := time.Until(start) + time.Duration((duration+*timeout)*float64(time.Second))
	select {
	case <-rec.done:
	case <-time.After(deadline):
		progress("timed out")
	}
	time.Sleep(time.Second) // a duplicate or a control job arriving late is still counted
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := client.Stop(stopCtx); err != nil {
		progress("stop: %v", err)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := summarize(rec, start, len(due), *scenario)
	out["ready_margin_seconds"] = round(margin, 3)
	out["settings"] = map[string]any{
		"MaxWorkers":        *maxWorkers,
		"FetchPollInterval": pollInterval.String(),
		"FetchCooldown":     cooldown.String(),
		"pgxpool MaxConns":  *poolSize,
		"insert":            "InsertManyFast (COPY), 10,000 a call",
	}
	out["version"] = moduleVersion("github.com/riverqueue/river")
	must(json.NewEncoder(os.Stdout).Encode(out))
}

// summarize computes the shape every harness prints, with the formulas of bench/scheduler.py:
// p50 the median, p99 the value at rank int(0.99·n) - 1 of the sorted list, drain from T to the
// last run, early a job whose first run came before its scheduled time.
func summarize(rec *recorder, start time.Time, expected int, scenario string) map[string]any {
	first := make(map[int64]run, len(rec.runs))
	duplicates := 0
	var last time.Time
	for _, r := range rec.runs {
		if r.ran.After(last) {
			last = r.ran
		}
		if _, ok := first[r.id]; ok {
			duplicates++
			continue
		}
		first[r.id] = r
	}
	lateness := make([]float64, 0, len(first))
	early, controlFired, handled := 0, 0, 0
	for _, r := range first {
		if r.ran.Before(r.scheduled) {
			early++
		}
		if r.control {
			controlFired++
		} else {
			handled++
		}
		lateness = append(lateness, float64(r.ran.Sub(r.scheduled).Microseconds())/1000)
	}
	sort.Float64s(lateness)
	out := map[string]any{
		"scenario": scenario, "jobs": expected, "handled": handled, "missing": expected - handled,
		"duplicates": duplicates, "early": early, "control_fired": controlFired,
		"drain_seconds": nil, "jobs_per_second": nil,
		"lateness_ms": map[string]any{"p50": nil, "p99": nil, "max": nil},
	}
	if n := len(lateness); n > 0 {
		median := lateness[n/2]
		if n%2 == 0 {
			median = (lateness[n/2-1] + lateness[n/2]) / 2
		}
		out["lateness_ms"] = map[string]any{
			"p50": round(median, 1), "p99": round(lateness[max(int(float64(n)*0.99)-1, 0)], 1),
			"max": round(lateness[n-1], 1),
		}
		drain := last.Sub(start).Seconds()
		out["drain_seconds"] = round(drain, 3)
		out["jobs_per_second"] = math.Round(float64(expected) / drain)
	}
	return out
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

func moduleVersion(path string) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == path {
				return dep.Version
			}
		}
	}
	return "unknown"
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "river harness:", err)
		os.Exit(1)
	}
}
