package replay

import (
	"maps"
	"slices"

	"github.com/gicits/gicits/model"
)

// invalidations records where the guest made the redistributors read LPI
// configuration again, and what it mapped and signalled, for the two
// rules that compare the trace with the property table's dump.
type invalidations struct {
	// lpi is the last line that invalidated one LPI (INV of an event
	// mapped to it, GICR_INVLPIR); cpu, all LPIs on one redistributor
	// (INVALL of a collection there, GICR_INVALLR, EnableLPIs set);
	// all, every redistributor (an INVALL whose collection is unknown).
	lpi map[model.INTID]int
	cpu map[model.CPU]int
	all int
	// mapped is each LPI's first mapping; on, the CPUs its events'
	// collections were on; msis, the first MSI to each LPI after which
	// no invalidation may have come, with the count of MSIs to it.
	mapped map[model.INTID]Record
	on     map[model.INTID][]model.CPU
	msis   map[model.INTID]*lpiMSI
}

type lpiMSI struct {
	rec   Record
	dev   model.DeviceID
	ev    model.EventID
	count int
}

func newInvalidations() *invalidations {
	return &invalidations{
		lpi: map[model.INTID]int{}, cpu: map[model.CPU]int{},
		mapped: map[model.INTID]Record{}, on: map[model.INTID][]model.CPU{}, msis: map[model.INTID]*lpiMSI{},
	}
}

// check notes what rec invalidates or maps, before g applies it.
func (v *invalidations) check(g *Guest, d *Dumped, rec Record) {
	switch e := rec.Event.(type) {
	case CmdINV:
		if m := g.mapping(e.DeviceID, e.EventID); m != nil {
			v.lpi[m.INTID] = rec.Line
		}
	case CmdINVALL:
		p, ok := d.Packets[rec.Line].(model.INVALL)
		if c := g.Collections[p.ICID]; ok && c != nil {
			v.cpu[c.CPU] = rec.Line
		} else if !ok {
			v.all = rec.Line
		}
	case CmdMAPTI:
		v.mapEvent(g, rec, e.INTID, e.ICID)
	case CmdMAPI:
		v.mapEvent(g, rec, model.INTID(e.EventID), e.ICID)
	case CmdMOVI:
		if m := g.mapping(e.DeviceID, e.EventID); m != nil {
			v.onCPU(g, m.INTID, e.ICID)
		}
	case RedistWrite:
		v.redistWrite(g, rec, e)
	}
}

func (v *invalidations) mapEvent(g *Guest, rec Record, intid model.INTID, icid model.ICID) {
	if _, ok := v.mapped[intid]; !ok {
		v.mapped[intid] = rec
	}
	v.onCPU(g, intid, icid)
}

func (v *invalidations) onCPU(g *Guest, intid model.INTID, icid model.ICID) {
	if c := g.Collections[icid]; c != nil && !slices.Contains(v.on[intid], c.CPU) {
		v.on[intid] = append(v.on[intid], c.CPU)
	}
}

// redistWrite notes GICR_INVLPIR, GICR_INVALLR and EnableLPIs being set.
func (v *invalidations) redistWrite(g *Guest, rec Record, e RedistWrite) {
	cpu, ok := g.CPUOf(e.Affinity)
	if !ok {
		return
	}
	switch model.GICRRegister(e.Offset) {
	case model.GICR_INVLPIR:
		v.lpi[model.INTID(uint32(e.Data))] = rec.Line
	case model.GICR_INVALLR:
		v.cpu[cpu] = rec.Line
	case model.GICR_CTLR:
		was := int(cpu) < len(g.Redistributors) && g.Redistributors[cpu].LPIsEnabled()
		if !was && e.Data&model.GICR_CTLR_EnableLPIs != 0 {
			v.cpu[cpu] = rec.Line
		}
	}
}

// msi notes an MSI that translates to intid.
func (v *invalidations) msi(rec Record, dev model.DeviceID, ev model.EventID, intid model.INTID) {
	if m := v.msis[intid]; m != nil && !v.after(intid, m.rec.Line) {
		m.count++
		return
	}
	v.msis[intid] = &lpiMSI{rec: rec, dev: dev, ev: ev, count: 1}
}

// after reports whether the guest invalidated intid's configuration
// after line: for one LPI, on a CPU it was on (any, when none is known),
// or everywhere.
func (v *invalidations) after(intid model.INTID, line int) bool {
	if v.lpi[intid] > line || v.all > line {
		return true
	}
	cpus := v.on[intid]
	for cpu, l := range v.cpu {
		if l > line && (len(cpus) == 0 || slices.Contains(cpus, cpu)) {
			return true
		}
	}
	return false
}

// checkDumpedConfig runs the two rules that need the property table's
// dump, at the end of the trace.
func (l *linter) checkDumpedConfig() {
	if l.dumped.Properties == nil {
		return
	}
	v := l.inv
	for _, intid := range slices.Sorted(maps.Keys(v.mapped)) {
		rec := v.mapped[intid]
		if cfg, ok := l.dumped.LPIConfig(intid); ok && cfg.Enabled() && !v.after(intid, rec.Line) {
			l.report(RuleMissingInv, rec, "LPI %d, first mapped here, is enabled in the property-table dump (%#02x), but no INV, INVALL, GICR_INVLPIR or GICR_INVALLR reached its redistributor after this mapping: the configuration the driver wrote may never be read", intid, uint8(cfg))
		}
	}
	for _, intid := range slices.Sorted(maps.Keys(v.msis)) {
		m := v.msis[intid]
		cfg, ok := l.dumped.LPIConfig(intid)
		if !ok || cfg.Enabled() || v.after(intid, m.rec.Line) {
			continue
		}
		more := ""
		if m.count > 1 {
			more = " (the first of " + plural(m.count, "MSI") + " to it with no invalidation after)"
		}
		l.report(RuleMSIDisabledLPI, m.rec, "MSI of event %d of device %#x targets LPI %d%s, which the property-table dump shows disabled (%#02x), and nothing invalidated its configuration after the MSI: it was disabled when the MSI came", m.ev, uint32(m.dev), intid, more, uint8(cfg))
	}
}
