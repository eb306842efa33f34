package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

// runScenario parses and runs the .its file on the named backend, and
// calls observe with the backend after the last statement, before it
// closes. Expectations that failed are reported on stderr and do not stop
// the inspection; a scenario that could not run to its end is an error.
func runScenario(e *env, backend, file string, observe func(*script.Script, model.Backend) error) error {
	if !slices.Contains(model.Backends(), backend) {
		return usagef("-backend %q: want one of %s", backend, backendList())
	}
	if _, err := os.Stat(file); err != nil {
		return usagef("-script: %v", err)
	}
	s, err := script.ParseFile(file)
	if err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	observed := false
	var obsErr error
	res := script.Run(s, script.Options{
		Backend: backend,
		Wrap:    e.traced,
		Observe: func(b model.Backend) error {
			observed = true
			obsErr = observe(s, b)
			return nil
		},
	})
	for _, f := range res.Failures {
		fmt.Fprintf(e.stderr, "scenario: %v\n", f)
	}
	for _, sk := range res.Skips {
		fmt.Fprintf(e.stderr, "scenario: %v\n", sk)
	}
	if res.SkipReason != "" {
		return fmt.Errorf("scenario %s skipped on %s: %s", file, backend, res.SkipReason)
	}
	if !observed {
		return fmt.Errorf("scenario %s did not run to its end on %s (see above): nothing to inspect", file, backend)
	}
	return obsErr
}

// scriptPMR returns the last priority mask the scenario set on each CPU.
func scriptPMR(s *script.Script) map[model.CPU]uint8 {
	pmr := map[model.CPU]uint8{}
	for _, st := range s.Stmts {
		if p, ok := st.(*script.PMRStmt); ok {
			pmr[p.CPU] = p.Value
		}
	}
	return pmr
}
