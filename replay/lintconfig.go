package replay

import (
	"fmt"
	"maps"
	"slices"

	"github.com/gicits/gicits/model"
)

// invalidations records where the guest made the redistributors read LPI
// configuration again, and what it mapped and signalled, for the two
// rules that compare the trace with the property table's dump.
type invalidations struct {
	// at are the lines, in order, where each LPI's configuration was
	// invalidated: an INV of an event mapped to it or a GICR_INVLPIR
	// naming it; an INVALL, GICR_INVALLR or GICR_CTLR.EnableLPIs set
	// afresh on the redistributor its collection was on at that moment
	// (an INVALL whose collection is unknown, without the queue's dump,
	// counts for every redistributor). named are the LPIs a GICR_INVLPIR
	// named, mapped or not.
	at    map[model.INTID][]int
	named map[model.INTID]bool
	// first is each LPI's first mapping, latest its latest (MAPTI, MAPI);
	// msis, the first MSI to each LPI after which no invalidation came.
	first  map[model.INTID]Record
	latest map[model.INTID]int
	msis   map[model.INTID]*lpiMSI
}

// lpiMSI is an MSI to an LPI, and how many followed it with no
// invalidation of the LPI between.
type lpiMSI struct {
	rec    Record
	dev    model.DeviceID
	ev     model.EventID
	mapped int // the line of the mapping in force
	count  int
}

func newInvalidations() *invalidations {
	return &invalidations{
		at: map[model.INTID][]int{}, named: map[model.INTID]bool{},
		first: map[model.INTID]Record{}, latest: map[model.INTID]int{}, msis: map[model.INTID]*lpiMSI{},
	}
}

// check notes what rec invalidates or maps, before g applies it.
func (v *invalidations) check(g *Guest, d *Dumped, rec Record) {
	switch e := rec.Event.(type) {
	case CmdINV:
		if m := g.mapping(e.DeviceID, e.EventID); m != nil {
			v.invalidate(rec.Line, m.INTID)
		}
	case CmdINVALL:
		p, known := d.Packets[rec.Line].(model.INVALL)
		c := g.Collections[p.ICID]
		switch {
		case !known:
			v.invalidateOn(g, rec.Line, func(model.CPU) bool { return true })
		case c != nil:
			v.invalidateOn(g, rec.Line, func(cpu model.CPU) bool { return cpu == c.CPU })
		}
	case CmdMAPTI:
		v.mapLPI(rec, e.INTID)
	case CmdMAPI:
		v.mapLPI(rec, model.INTID(e.EventID))
	case RedistWrite:
		v.redistWrite(g, rec, e)
	}
}

func (v *invalidations) mapLPI(rec Record, intid model.INTID) {
	if _, ok := v.first[intid]; !ok {
		v.first[intid] = rec
	}
	v.latest[intid] = rec.Line
}

func (v *invalidations) invalidate(line int, intid model.INTID) {
	v.at[intid] = append(v.at[intid], line)
}

// invalidateOn invalidates every LPI mapped now whose collection is on a
// CPU on says yes to.
func (v *invalidations) invalidateOn(g *Guest, line int, on func(model.CPU) bool) {
	for _, d := range g.Devices {
		for _, m := range d.Events {
			if c := g.Collections[m.ICID]; c != nil && on(c.CPU) {
				v.invalidate(line, m.INTID)
			}
		}
	}
}

// redistWrite notes GICR_INVLPIR, GICR_INVALLR and EnableLPIs being set.
func (v *invalidations) redistWrite(g *Guest, rec Record, e RedistWrite) {
	cpu, ok := g.CPUOf(e.Affinity)
	if !ok {
		return
	}
	here := func(c model.CPU) bool { return c == cpu }
	switch model.GICRRegister(e.Offset) {
	case model.GICR_INVLPIR:
		intid := model.INTID(uint32(e.Data))
		v.invalidate(rec.Line, intid)
		v.named[intid] = true
	case model.GICR_INVALLR:
		v.invalidateOn(g, rec.Line, here)
	case model.GICR_CTLR:
		was := int(cpu) < len(g.Redistributors) && g.Redistributors[cpu].LPIsEnabled()
		if !was && e.Data&model.GICR_CTLR_EnableLPIs != 0 {
			v.invalidateOn(g, rec.Line, here)
		}
	}
}

// msi notes an MSI that translates to intid.
func (v *invalidations) msi(rec Record, dev model.DeviceID, ev model.EventID, intid model.INTID) {
	if m := v.msis[intid]; m != nil && !v.between(intid, m.rec.Line, rec.Line) {
		m.count++
		return
	}
	v.msis[intid] = &lpiMSI{rec: rec, dev: dev, ev: ev, mapped: v.latest[intid], count: 1}
}

// between reports whether intid's configuration was invalidated after
// line from and before line to (0 for the end of the trace).
func (v *invalidations) between(intid model.INTID, from, to int) bool {
	return slices.ContainsFunc(v.at[intid], func(l int) bool { return l > from && (to == 0 || l < to) })
}

// checkDumpedConfig runs the two rules that need the property table's
// dump, at the end of the trace.
func (l *linter) checkDumpedConfig() {
	if l.dumped.Properties == nil {
		return
	}
	l.missingInv()
	l.msiDisabledLPI()
}

// missingInv: an LPI enabled in the dump must have had its configuration
// invalidated after its first mapping (or named by a GICR_INVLPIR at any
// time). A dump is one moment, so when the driver invalidates no LPI
// after mapping it, it may write every configuration before enabling
// LPIs, which needs no invalidation: then the finding is informational.
func (l *linter) missingInv() {
	v := l.inv
	var missing []model.INTID
	published := 0
	for _, intid := range slices.Sorted(maps.Keys(v.first)) {
		cfg, ok := l.dumped.LPIConfig(intid)
		switch {
		case v.between(intid, v.first[intid].Line, 0):
			published++
		case ok && cfg.Enabled() && !v.named[intid]:
			missing = append(missing, intid)
		}
	}
	for _, intid := range missing {
		cfg, _ := l.dumped.LPIConfig(intid)
		m := Misuse{Rule: RuleMissingInv, Line: v.first[intid].Line, Event: eventName(v.first[intid])}
		m.What = fmt.Sprintf("LPI %d, first mapped here, is enabled in the property-table dump (%#02x), but no INV, INVALL, GICR_INVLPIR or GICR_INVALLR reached its redistributor after this mapping, though the driver does that for %s: the configuration it wrote may never be read", intid, uint8(cfg), plural(published, "other LPI"))
		if published == 0 {
			m.Informational = true
			m.What = fmt.Sprintf("LPI %d, first mapped here, is enabled in the property-table dump (%#02x), and the driver invalidates no LPI's configuration after mapping it: correct only if it wrote every configuration before enabling LPIs on the redistributor (the dump cannot show when)", intid, uint8(cfg))
		}
		l.found = append(l.found, m)
	}
}

// msiDisabledLPI: an MSI to an LPI the dump shows disabled, with no
// invalidation after it, came while the LPI was disabled (for a driver
// that invalidates after each change). If the driver never invalidated
// the LPI after mapping it, it never enabled it: a finding. If it did, it
// masked it, and the device fired anyway: the LPI stays pending on every
// implementation alike, so the finding is informational.
func (l *linter) msiDisabledLPI() {
	v := l.inv
	for _, intid := range slices.Sorted(maps.Keys(v.msis)) {
		m := v.msis[intid]
		cfg, ok := l.dumped.LPIConfig(intid)
		if !ok || cfg.Enabled() || v.between(intid, m.rec.Line, 0) {
			continue
		}
		more := ""
		if m.count > 1 {
			more = " (the first of " + plural(m.count, "MSI") + " to it with no invalidation after)"
		}
		f := Misuse{Rule: RuleMSIDisabledLPI, Line: m.rec.Line, Event: eventName(m.rec)}
		f.What = fmt.Sprintf("MSI of event %d of device %#x targets LPI %d%s, which the property-table dump shows disabled (%#02x), and the driver never invalidated its configuration after mapping it (line %d): it was never enabled", m.ev, uint32(m.dev), intid, more, uint8(cfg), m.mapped)
		if v.between(intid, m.mapped, m.rec.Line) {
			f.Informational = true
			f.What = fmt.Sprintf("MSI of event %d of device %#x targets LPI %d%s, which the driver had masked (disabled in the property-table dump, and invalidated before the MSI, with none after): it stays pending, on QEMU, KVM and hardware alike, until unmasked", m.ev, uint32(m.dev), intid, more)
		}
		l.found = append(l.found, f)
	}
}
