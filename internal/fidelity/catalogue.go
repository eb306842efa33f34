package fidelity

import (
	"slices"

	"github.com/gicits/gicits/internal/fidelity/entries"
	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

// Entry is a catalogue entry (package entries holds the data).
type Entry = entries.Entry

// Catalogue is the catalogue, the most specific entry first.
var Catalogue = entries.List

// Lookup returns the entry with id.
func Lookup(id string) (*Entry, bool) { return entries.Lookup(id) }

// classifiers are the entries' classifiers, by ID: each reports whether a
// divergence is its entry's. An entry the generated streams cannot meet
// has none.
var classifiers = map[string]func(*Context) bool{
	"movall":             classifyMOVALL,
	"discard-pending":    classifyDiscardPending,
	"reused-intid":       classifyReusedINTID,
	"priority-bits":      classifyPriorityBits,
	"ack-equal-priority": classifyEqualPriority,
}

// Classifier returns entry id's classifier, or nil.
func Classifier(id string) func(*Context) bool { return classifiers[id] }

// Classify returns the catalogue entry that explains the divergence in
// c, among those that show on kernel series k (all of them when k is not
// one the catalogue knows), or nil.
func Classify(c *Context, k string) *Entry {
	known := slices.Contains(entries.Kernels, k)
	for _, e := range Catalogue {
		if known && !e.ShowsOn(k) {
			continue
		}
		if f := classifiers[e.ID]; f != nil && f(c) {
			return e
		}
	}
	return nil
}

// classifyMOVALL: the divergence involves an LPI that the last MOVALL
// before it moves on KVM only: the LPI then targeted neither RDbase1 nor
// RDbase2 on the simulator, and still targets the same CPU there (no MOVI
// or MAPC moved it since), while KVM, if it shows the LPI, shows it on
// RDbase2.
func classifyMOVALL(c *Context) bool {
	i, mv, ok := c.lastMOVALL()
	if !ok {
		return false
	}
	then, now := c.SimBefore(i), c.SimBefore(c.Div.Index)
	if then == nil || now == nil {
		return false
	}
	for _, s := range c.Involved() {
		t, ok := target(then, s.LPI)
		if !ok || uint64(t) == mv.RDbase1 || uint64(t) == mv.RDbase2 {
			continue
		}
		if still, ok := target(now, s.LPI); !ok || still != t {
			continue
		}
		if s.KVMCPU < 0 || uint64(s.KVMCPU) == mv.RDbase2 {
			return true
		}
	}
	return false
}

// lastMOVALL returns the last MOVALL before the divergence that moves
// anything: RDbase1 and RDbase2 distinct redistributors.
func (c *Context) lastMOVALL() (int, model.MOVALL, bool) {
	for i := c.Div.Index - 1; i >= 0; i-- {
		cmd, _ := c.command(i)
		mv, ok := cmd.(model.MOVALL)
		if !ok || mv.RDbase1 == mv.RDbase2 {
			continue
		}
		st := c.SimBefore(i)
		if st != nil && int(mv.RDbase1) < len(st.Redistributors) && int(mv.RDbase2) < len(st.Redistributors) {
			return i, mv, true
		}
	}
	return 0, model.MOVALL{}, false
}

// classifyDiscardPending: the divergence involves an LPI whose mapping a
// DISCARD or MAPD removed, at some point before, while it was pending on
// the simulator, and KVM still shows it (wherever later commands moved it
// there), or a later MAPTI of the INTID inherited the stale vgic_irq, with
// its old target, so KVM does not show it where the simulator does.
func classifyDiscardPending(c *Context) bool {
	for _, s := range c.Involved() {
		for _, r := range c.removals(s.LPI) {
			if !r.pending {
				continue
			}
			if s.KVMCPU >= 0 {
				return true
			}
			if _, ok := c.mappedAfter(s.LPI, r.index); ok {
				return true
			}
		}
	}
	return false
}

// removal is a statement that removed an LPI's mapping (DISCARD, MAPD),
// and whether the LPI was pending on the simulator just before it.
type removal struct {
	index   int
	pending bool
}

// removals returns the statements before the divergence that removed
// lpi's mapping, the latest first.
func (c *Context) removals(lpi model.INTID) []removal {
	var out []removal
	for i := c.Div.Index - 1; i >= 0; i-- {
		cmd, ok := c.command(i)
		if !ok {
			continue
		}
		switch cmd.(type) {
		case model.DISCARD, model.MAPD:
		default:
			continue
		}
		st := c.SimBefore(i)
		if st == nil || !slices.Contains(eventsOf(st, c.itsAt(i), cmd), lpi) {
			continue
		}
		_, was := pendingOn(st, lpi)
		out = append(out, removal{i, was})
	}
	return out
}

// classifyReusedINTID: the divergence involves an LPI mapped again by a
// MAPTI after a DISCARD or MAPD removed its previous mapping while it was
// not pending on the simulator, and whose old vgic_irq KVM may still hold:
// the LPI was last pending on a CPU o that neither acknowledged nor EOId
// anything from then until that MAPTI (so KVM did not run o's vCPU and
// prune its list). KVM, if it shows the LPI, shows it on o (the stale
// target), or where the simulator targets it too (a stale configuration
// or pending latch, after a MOVI).
func classifyReusedINTID(c *Context) bool {
	for _, s := range c.Involved() {
		rs := c.removals(s.LPI)
		if len(rs) == 0 || rs[0].pending {
			continue
		}
		m, ok := c.mappedAfter(s.LPI, rs[0].index)
		if !ok {
			continue
		}
		u, o, ok := c.lastPending(s.LPI, rs[0].index)
		if !ok || c.cpuRan(o, u+1, m) {
			continue
		}
		if s.KVMCPU < 0 || model.CPU(s.KVMCPU) == o {
			return true
		}
		// On the CPU the simulator targets too (a MOVI moved both): the
		// reused vgic_irq's stale configuration or pending latch.
		if now := c.SimBefore(c.Div.Index); now != nil {
			if t, ok := target(now, s.LPI); ok && int(t) == s.KVMCPU {
				return true
			}
		}
	}
	return false
}

// mappedAfter returns the first MAPTI of lpi after statement i, before
// the divergence.
func (c *Context) mappedAfter(lpi model.INTID, i int) (int, bool) {
	for j := i + 1; j < c.Div.Index; j++ {
		if cmd, ok := c.command(j); ok {
			if m, ok := cmd.(model.MAPTI); ok && m.INTID == lpi {
				return j, true
			}
		}
	}
	return 0, false
}

// lastPending returns the last statement before i that ran while lpi was
// pending on the simulator, and the CPU it was pending on.
func (c *Context) lastPending(lpi model.INTID, i int) (int, model.CPU, bool) {
	for j := i - 1; j >= 0; j-- {
		st := c.SimBefore(j)
		if st == nil {
			continue
		}
		if cpu, ok := pendingOn(st, lpi); ok {
			return j, cpu, true
		}
	}
	return 0, 0, false
}

// cpuRan reports whether a statement in [from, to) acknowledges or EOIs on
// cpu: on KVM, that runs the vCPU, which prunes its list.
func (c *Context) cpuRan(cpu model.CPU, from, to int) bool {
	for j := from; j < to && j < len(c.Stream.Stmts); j++ {
		switch st := c.Stream.Stmts[j].(type) {
		case *script.AckStmt:
			if st.CPU == cpu {
				return true
			}
		case *script.EOIStmt:
			if st.CPU == cpu {
				return true
			}
		case *script.ExpectAckStmt:
			if st.CPU == cpu {
				return true
			}
		}
	}
	return false
}

// classifyPriorityBits: an ack on which the two sides took LPIs whose
// priorities differ only in bits [2:0], or on which KVM took nothing where
// the simulator took an LPI of priority 0xF8 or 0xFC.
func classifyPriorityBits(c *Context) bool {
	cpu, a, b, ok := c.ack()
	if !ok || a < model.LPIBase {
		return false
	}
	st := c.SimBefore(c.Div.Index)
	if st == nil {
		return false
	}
	pa, okA := priority(st, a)
	if !okA {
		return false
	}
	if b == model.SpuriousINTID {
		return pa&0xf8 == 0xf8
	}
	pb, okB := priority(st, b)
	p, isPending := pendingOn(st, b)
	return okB && isPending && p == cpu && pa != pb && pa&0xf8 == pb&0xf8
}

// classifyEqualPriority: an ack on which the two sides took different
// LPIs of equal priority, both pending on that CPU.
func classifyEqualPriority(c *Context) bool {
	cpu, a, b, ok := c.ack()
	if !ok || a < model.LPIBase || b < model.LPIBase {
		return false
	}
	st := c.SimBefore(c.Div.Index)
	if st == nil {
		return false
	}
	pa, okA := priority(st, a)
	pb, okB := priority(st, b)
	p, isPending := pendingOn(st, b)
	return okA && okB && pa == pb && isPending && p == cpu
}
