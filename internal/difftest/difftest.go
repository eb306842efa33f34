package difftest

import (
	"slices"

	"github.com/google/go-cmp/cmp"

	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

// Observation is what a run of a stream leaves to compare: the outcome of
// every msi and ack, what is pending on each CPU at the end, and the tables
// saved at the end, collections keyed by ICID (KVM saves them in list
// order, which the architecture does not fix).
type Observation struct {
	Outcomes    []script.Outcome
	Pending     map[model.CPU][]model.INTID
	Devices     map[model.DeviceID]model.DTE
	Events      map[model.DeviceID]map[model.EventID]model.ITE
	Collections map[model.ICID]model.CTE
	Failures    []string
}

// Variant is one side of a differential run: a backend and how to adjust
// its configuration.
type Variant struct {
	Name      string
	Backend   string
	Configure func(*model.Config)
}

// Observe runs s on v and returns what it observed.
func Observe(s *script.Script, v Variant) *Observation {
	o := &Observation{Pending: map[model.CPU][]model.INTID{}}
	res := script.Run(s, script.Options{Backend: v.Backend, Configure: v.Configure, Observe: o.observeBackend})
	o.Outcomes = res.Outcomes
	for _, f := range res.Failures {
		o.Failures = append(o.Failures, f.String())
	}
	if res.SkipReason != "" {
		o.Failures = append(o.Failures, "skipped: "+res.SkipReason)
	}
	return o
}

// observeBackend records what is pending on every CPU of b and the tables
// it saved, after the last statement ran.
func (o *Observation) observeBackend(b model.Backend) error {
	for c := range b.Capabilities().CPUs {
		p, err := b.Pending(model.CPU(c))
		if err != nil {
			return err
		}
		if len(p) > 0 {
			o.Pending[model.CPU(c)] = p
		}
	}
	t, err := model.ReadSavedTables(b)
	if err != nil {
		return err
	}
	o.Devices = map[model.DeviceID]model.DTE{}
	o.Events = map[model.DeviceID]map[model.EventID]model.ITE{}
	for _, d := range t.Devices {
		o.Devices[d.ID] = d.DTE
		for _, e := range d.Events {
			if o.Events[d.ID] == nil {
				o.Events[d.ID] = map[model.EventID]model.ITE{}
			}
			o.Events[d.ID][e.ID] = e.ITE
		}
	}
	o.Collections = map[model.ICID]model.CTE{}
	for _, c := range t.Collections {
		o.Collections[c.CTE.ICID] = c.CTE
	}
	return nil
}

// Diff runs s on a and b and returns their differences as cmp.Diff prints
// them, (-a +b), or "" when they agree.
func Diff(s *script.Script, a, b Variant) string {
	return cmp.Diff(Observe(s, a), Observe(s, b))
}

// Shrink removes statements from a stream that makes a and b disagree,
// one at a time, keeping each removal after which both sides still run
// without failures and still disagree. The set-up (settings, LPI
// configuration, EnableLPIs) and the final save stay.
func Shrink(s *script.Script, a, b Variant) *script.Script {
	cur := s
	for changed := true; changed; {
		changed = false
		for i := len(cur.Stmts) - 2; i >= 0; i-- {
			switch cur.Stmts[i].(type) {
			case script.Setting, *script.LPIStmt, *script.EnableLPIsStmt:
				continue
			}
			cand := &script.Script{File: cur.File, Stmts: slices.Delete(slices.Clone(cur.Stmts), i, i+1)}
			oa, ob := Observe(cand, a), Observe(cand, b)
			if len(oa.Failures) > 0 || len(ob.Failures) > 0 || cmp.Equal(oa, ob) {
				continue
			}
			cur, changed = cand, true
		}
	}
	return renumber(cur)
}

// renumber re-parses the printed script so that positions match the
// printed lines (every statement prints in a form that parses back).
func renumber(s *script.Script) *script.Script {
	again, err := script.Parse(s.File, []byte(s.String()))
	if err != nil {
		return s
	}
	return again
}
