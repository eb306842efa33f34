package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/gicits/gicits/inspect"
	"github.com/gicits/gicits/model"
)

// tracing is the -trace destination of the command running now. Every
// subcommand's flag set has -trace (newFlagSet); openBackend wraps the
// backend it opens in inspect.Trace while it is set; run clears it when the
// command ends.
//
// # Notes
//
// It is process state: run is not reentrant while a command traces. Tests
// that call run concurrently must not pass -trace.
var tracing struct {
	sync.Mutex
	log    *slog.Logger
	closer io.Closer
}

// traceFlag is the -trace flag: FILE, or - for stderr.
type traceFlag struct {
	e    *env
	path string
}

func (f *traceFlag) String() string { return f.path }

func (f *traceFlag) Set(path string) error {
	var w io.Writer
	var c io.Closer
	if path == "-" {
		w = f.e.stderr
	} else {
		file, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("cannot open the trace file: %v", err)
		}
		w, c = file, file
	}
	f.path = path
	tracing.Lock()
	defer tracing.Unlock()
	if tracing.closer != nil {
		tracing.closer.Close()
	}
	tracing.log, tracing.closer = newTraceLogger(w), c
	return nil
}

// newTraceLogger logs text records without timestamps, so that the traces
// of two runs (on the sim and on KVM, say) can be diffed.
func newTraceLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// traced wraps b in inspect.Trace when -trace is set.
func traced(b model.Backend) model.Backend {
	tracing.Lock()
	defer tracing.Unlock()
	if tracing.log == nil {
		return b
	}
	return inspect.Trace(b, tracing.log)
}

// endTracing closes the trace file of the command that just ran.
func endTracing() {
	tracing.Lock()
	defer tracing.Unlock()
	if tracing.closer != nil {
		tracing.closer.Close()
	}
	tracing.log, tracing.closer = nil, nil
}
