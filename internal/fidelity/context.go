package fidelity

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/inspect"
	"github.com/gicits/gicits/internal/difftest"
	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

// Context is a divergence between the simulator (side A) and KVM (side B)
// on one stream, with the simulator's state at any point of the stream
// for the classifiers to look at.
type Context struct {
	Stream *script.Script
	Div    *difftest.Divergence
	states map[int]*simState
}

// simState is what the simulator holds at one point of a stream: its
// inspect dump, and each LPI's target, which MOVALL changes without
// changing any table (IHI 0069 6.3.15).
type simState struct {
	*inspect.State
	targets map[model.INTID]model.CPU
}

// NewContext returns the context of d on s.
func NewContext(s *script.Script, d *difftest.Divergence) *Context {
	return &Context{Stream: s, Div: d, states: map[int]*simState{}}
}

// SimBefore returns the simulator's state after the statements before
// index i ran (and the expect errors right after them), or nil when the
// simulator cannot run them.
func (c *Context) SimBefore(i int) *simState {
	for i < len(c.Stream.Stmts) {
		if _, ok := c.Stream.Stmts[i].(*script.ExpectErrorStmt); !ok {
			break
		}
		i++
	}
	if st, ok := c.states[i]; ok {
		return st
	}
	prefix := &script.Script{File: c.Stream.File, Stmts: c.Stream.Stmts[:min(i, len(c.Stream.Stmts))]}
	var st *simState
	res := script.Run(prefix, script.Options{Backend: "sim", AfterStmt: saveAfterErrors, Observe: func(b model.Backend) error {
		dump, err := inspect.ReadState(b)
		if err != nil {
			return err
		}
		st = &simState{State: dump, targets: lpiTargets(b)}
		return nil
	}})
	if len(res.Failures) > 0 {
		st = nil
	}
	c.states[i] = st
	return st
}

// saveAfterErrors saves the tables after each expect error, as the
// differential's observation does (difftest.Observe): the save writes the
// pending tables, whose bits a later MAPTI of the same INTID loads, so a
// replay without it would not see the state the streams did.
func saveAfterErrors(st script.Stmt, b model.Backend) error {
	if _, ok := st.(*script.ExpectErrorStmt); !ok {
		return nil
	}
	return b.SaveTables()
}

// ack returns the CPU of an ack divergence, and what each side
// acknowledged (model.SpuriousINTID for nothing).
func (c *Context) ack() (cpu model.CPU, a, b model.INTID, ok bool) {
	var n int
	if _, err := fmt.Sscanf(c.Div.What, "ack cpu=%d", &n); err != nil {
		return 0, 0, 0, false
	}
	a, okA := parseAcked(c.Div.A)
	b, okB := parseAcked(c.Div.B)
	return model.CPU(n), a, b, okA && okB
}

// parseAcked reads an ack outcome: an INTID, maybe followed by a note.
func parseAcked(seen string) (model.INTID, bool) {
	f, _, _ := strings.Cut(seen, " ")
	n, err := strconv.ParseUint(f, 10, 32)
	return model.INTID(n), err == nil
}

// pending returns the CPU of a pending divergence and each side's set.
func (c *Context) pending() (cpu model.CPU, a, b []model.INTID, ok bool) {
	var n int
	if _, err := fmt.Sscanf(c.Div.What, "pending cpu=%d", &n); err != nil {
		return 0, nil, nil, false
	}
	return model.CPU(n), parseSet(c.Div.A), parseSet(c.Div.B), true
}

// parseSet reads a pending set as Observation prints it: [8192 8193].
func parseSet(seen string) []model.INTID {
	var out []model.INTID
	for f := range strings.FieldsSeq(strings.Trim(seen, "[]")) {
		if n, err := strconv.ParseUint(f, 10, 32); err == nil {
			out = append(out, model.INTID(n))
		}
	}
	return out
}

// Shown is an LPI the divergence involves, and the CPU KVM shows it on
// (-1 when KVM does not show it there).
type Shown struct {
	LPI    model.INTID
	KVMCPU int
}

// Involved returns the LPIs the divergence is about: the two LPIs an ack
// returned, or the LPIs pending on one side only.
func (c *Context) Involved() []Shown {
	var out []Shown
	if cpu, a, b, ok := c.ack(); ok {
		if b >= model.LPIBase {
			out = append(out, Shown{b, int(cpu)})
		}
		if a >= model.LPIBase && a != b {
			out = append(out, Shown{a, -1})
		}
		return out
	}
	if cpu, a, b, ok := c.pending(); ok {
		for _, l := range b {
			if !slices.Contains(a, l) {
				out = append(out, Shown{l, int(cpu)})
			}
		}
		for _, l := range a {
			if !slices.Contains(b, l) {
				out = append(out, Shown{l, -1})
			}
		}
	}
	return out
}

// lpiTargets returns the target of every LPI the simulator b knows.
func lpiTargets(b model.Backend) map[model.INTID]model.CPU {
	out := map[model.INTID]model.CPU{}
	s, ok := b.(*sim.Backend)
	if !ok {
		return out
	}
	rd := s.Redistributors()
	for id := model.LPIBase; id < rd.LPILimit() && id < model.LPIBase+maxLPIs; id++ {
		if cpu, ok := rd.LPITarget(id); ok {
			out[id] = cpu
		}
	}
	return out
}

// maxLPIs bounds the LPIs lpiTargets looks at: generated streams use 31.
const maxLPIs = 4096

// target returns the CPU lpi targets in st: the simulator's own record
// (which MOVALL changes), else the collection of the event mapping it.
func target(st *simState, lpi model.INTID) (model.CPU, bool) {
	if cpu, ok := st.targets[lpi]; ok {
		return cpu, true
	}
	itses := st.ITSes
	if len(itses) == 0 {
		itses = []inspect.ITSInfo{{Collections: st.Collections, Devices: st.Devices}}
	}
	for _, its := range itses {
		for _, d := range its.Devices {
			for _, e := range d.Events {
				if e.LPI != lpi {
					continue
				}
				for _, col := range its.Collections {
					if col.ICID == e.ICID && col.CPU != nil {
						return *col.CPU, true
					}
				}
			}
		}
	}
	return 0, false
}

// pendingOn returns the CPU lpi is pending on in st.
func pendingOn(st *simState, lpi model.INTID) (model.CPU, bool) {
	for _, r := range st.Redistributors {
		if slices.Contains(r.Pending, lpi) {
			return r.CPU, true
		}
	}
	return 0, false
}

// priority returns lpi's priority in st's configuration table.
func priority(st *simState, lpi model.INTID) (uint8, bool) {
	for _, l := range st.LPIs {
		if l.INTID == lpi {
			return l.Priority, true
		}
	}
	return 0, false
}

// eventsOf returns the LPIs the ITEs a command removes map in st: one
// event for DISCARD, every event of the device for MAPD.
func eventsOf(st *simState, its int, cmd model.Command) []model.INTID {
	var out []model.INTID
	for _, d := range st.devicesOf(its) {
		for _, e := range d.Events {
			switch c := cmd.(type) {
			case model.DISCARD:
				if d.ID == c.DeviceID && e.ID == c.EventID {
					out = append(out, e.LPI)
				}
			case model.MAPD:
				if d.ID == c.DeviceID {
					out = append(out, e.LPI)
				}
			}
		}
	}
	return out
}

// devicesOf returns the devices of ITS its in st: the only ITS's on a
// machine with one.
func (st *simState) devicesOf(its int) []inspect.DeviceInfo {
	if its < len(st.ITSes) {
		return st.ITSes[its].Devices
	}
	return st.Devices
}

// itsAt returns the ITS statement i addresses: the last "its I" before
// it, 0 when there is none (several ITSes, script's ITSStmt).
func (c *Context) itsAt(i int) int {
	for j := min(i, len(c.Stream.Stmts)) - 1; j >= 0; j-- {
		if s, ok := c.Stream.Stmts[j].(*script.ITSStmt); ok {
			return s.N
		}
	}
	return 0
}

// command returns the command of statement i, if it is one.
func (c *Context) command(i int) (model.Command, bool) {
	cs, ok := c.Stream.Stmts[i].(*script.CommandStmt)
	if !ok {
		return nil, false
	}
	return cs.Cmd, true
}
