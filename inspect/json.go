package inspect

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"

	"github.com/gicits/gicits/model"
)

// JSONVersion is the version of the JSON documents [WriteExplainJSON] and
// [State.WriteJSON] write, in their "version" field. It changes when a
// field is removed, renamed or means something else; a field may be added
// without it changing. docs/json.md describes every field.
const JSONVersion = 1

// The JSON documents' conventions (docs/json.md): addresses, register
// values, raw bytes and error codes are hex strings ("0x40010080"), since
// a JSON number cannot hold every 64-bit value exactly; IDs (DeviceID,
// EventID, INTID, ICID, CPU), counts and sizes are numbers.

// hex64 writes v as a JSON hex string.
func hex64(v uint64) string { return fmt.Sprintf("%#x", v) }

// writeJSON writes doc as indented JSON.
func writeJSON(w io.Writer, doc any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// explainDoc is the JSON document of a translation walk.
type explainDoc struct {
	Schema  string `json:"schema"`
	Version int    `json:"version"`
	Dev     uint32 `json:"dev"`
	Ev      uint32 `json:"ev"`
	// ITS and Doorbell are written on a backend with several ITSes only.
	ITS      *int      `json:"its,omitempty"`
	Doorbell string    `json:"doorbell,omitempty"`
	Steps    []stepDoc `json:"steps"`
}

// stepDoc is one [Step] in JSON.
type stepDoc struct {
	Step     string    `json:"step"`
	Verdict  Verdict   `json:"verdict"`
	Register string    `json:"register,omitempty"`
	Addr     string    `json:"addr,omitempty"`
	Bytes    string    `json:"bytes,omitempty"`
	Value    string    `json:"value,omitempty"`
	Fields   []Field   `json:"fields,omitempty"`
	Check    string    `json:"check,omitempty"`
	Error    *errorDoc `json:"error,omitempty"`
	Section  string    `json:"section,omitempty"`
	Why      string    `json:"why,omitempty"`
}

// errorDoc is an ITS command error code, by name and number.
type errorDoc struct {
	Name string `json:"name"`
	Code string `json:"code"`
}

// WriteExplainJSON writes the walk of (dev, ev) as a JSON document, the
// "gicits-explain" schema of docs/json.md.
func WriteExplainJSON(w io.Writer, dev model.DeviceID, ev model.EventID, steps []Step) error {
	return WriteWalkJSON(w, Walked{Dev: dev, Ev: ev}, steps)
}

// WriteWalkJSON writes the walk of what w names as a JSON document, the
// "gicits-explain" schema of docs/json.md: with w.ITSes > 1, it names the
// ITS walked and its doorbell too.
func WriteWalkJSON(out io.Writer, w Walked, steps []Step) error {
	doc := explainDoc{Schema: "gicits-explain", Version: JSONVersion, Dev: uint32(w.Dev), Ev: uint32(w.Ev), Steps: []stepDoc{}}
	if w.ITSes > 1 {
		its := w.ITS
		doc.ITS, doc.Doorbell = &its, hex64(uint64(w.Doorbell))
	}
	for _, s := range steps {
		doc.Steps = append(doc.Steps, s.doc())
	}
	return writeJSON(out, doc)
}

// doc is s in JSON. What the step read is the register's value, or the
// bytes at Addr and their little-endian value.
func (s Step) doc() stepDoc {
	d := stepDoc{Step: s.Title, Verdict: s.Verdict, Register: s.Register, Fields: s.Fields, Check: s.Check, Section: s.Section, Why: s.Why}
	if s.Addr != 0 {
		d.Addr = hex64(uint64(s.Addr))
	}
	switch {
	case s.Register != "":
		d.Value = hex64(s.Value)
	case len(s.Bytes) > 0:
		d.Bytes = fmt.Sprintf("%x", s.Bytes)
		var le [8]byte
		copy(le[:], s.Bytes)
		d.Value = hex64(binary.LittleEndian.Uint64(le[:]))
	}
	if s.Code != 0 {
		d.Error = &errorDoc{Name: s.Code.String(), Code: fmt.Sprintf("%#06x", uint32(s.Code))}
	}
	return d
}

// stateDoc is the JSON document of a [State].
type stateDoc struct {
	Schema         string             `json:"schema"`
	Version        int                `json:"version"`
	ITS            itsDoc             `json:"its"`
	PropTable      propTableDoc       `json:"prop_table"`
	Redistributors []redistributorDoc `json:"redistributors"`
	Collections    []collectionDoc    `json:"collections"`
	Devices        []deviceDoc        `json:"devices"`
	LPIs           []lpiDoc           `json:"lpis"`
	// VPEs is written on a backend with vPEs only (nil: absent).
	VPEs *[]vpeDoc `json:"vpes,omitempty"`
	// ITSes is written on a backend with several ITSes only; its, the
	// collections, devices and vpes above are then ITS 0's.
	ITSes []itsEntryDoc `json:"itses,omitempty"`
}

// itsEntryDoc is an [ITSInfo]: one ITS of several.
type itsEntryDoc struct {
	Index       int             `json:"index"`
	Frames      string          `json:"frames"`
	Doorbell    string          `json:"doorbell"`
	ITS         itsDoc          `json:"its"`
	Collections []collectionDoc `json:"collections"`
	Devices     []deviceDoc     `json:"devices"`
	VPEs        *[]vpeDoc       `json:"vpes,omitempty"`
}

type itsDoc struct {
	Enabled         bool      `json:"enabled"`
	CBASER          string    `json:"cbaser"`
	Queue           queueDoc  `json:"queue"`
	CREADR          string    `json:"creadr"`
	CWRITER         string    `json:"cwriter"`
	Stalled         bool      `json:"stalled"`
	DeviceTable     tableDoc  `json:"device_table"`
	CollectionTable tableDoc  `json:"collection_table"`
	VPETable        *tableDoc `json:"vpe_table,omitempty"`
	// GICv41 is written for a GICv4.1 ITS only.
	GICv41 *itsV41Doc `json:"gicv41,omitempty"`
}

// itsV41Doc is an [ITSv41].
type itsV41Doc struct {
	NID  bool `json:"nid"`
	VSGI bool `json:"vsgi"`
}

type queueDoc struct {
	Addr  string `json:"addr"`
	Pages int    `json:"pages"`
}

// tableDoc is a [TableBase]: valid, with where the table is, or not, with
// the register's value.
type tableDoc struct {
	Valid bool   `json:"valid"`
	Baser string `json:"baser,omitempty"`
	*validTableDoc
}

type validTableDoc struct {
	Type     string `json:"type"`
	Indirect bool   `json:"indirect"`
	Addr     string `json:"addr"`
	Pages    int    `json:"pages"`
	PageSize int    `json:"page_size"`
}

type propTableDoc struct {
	Addr   string `json:"addr"`
	IDBits int    `json:"id_bits"`
}

type redistributorDoc struct {
	CPU        model.CPU          `json:"cpu"`
	EnableLPIs bool               `json:"enable_lpis"`
	Pending    []model.INTID      `json:"pending"`
	Virtual    *vredistributorDoc `json:"virtual,omitempty"`
}

// vredistributorDoc is a [VirtualRedistributor].
type vredistributorDoc struct {
	VPropBaser  string        `json:"vpropbaser"`
	VPropTable  propTableDoc  `json:"vprop_table"`
	VPendBaser  string        `json:"vpendbaser"`
	Valid       bool          `json:"valid"`
	IDAI        bool          `json:"idai"`
	PendingLast bool          `json:"pending_last"`
	VPT         string        `json:"vpt"`
	VPEs        []model.VPEID `json:"vpes"`
	Pending     []model.INTID `json:"pending"`
	// V41 is written on a GICv4.1 ITS only: the registers' GICv4.1 forms.
	V41 *vredistributor41Doc `json:"v41,omitempty"`
}

// vredistributor41Doc is GICR_VPROPBASER and GICR_VPENDBASER in their
// GICv4.1 forms.
type vredistributor41Doc struct {
	VPEConfigTable vpeConfigTableDoc `json:"vpe_config_table"`
	VPEID          model.VPEID       `json:"vpeid"`
	VGrp0En        bool              `json:"vgrp0en"`
	VGrp1En        bool              `json:"vgrp1en"`
	Doorbell       bool              `json:"doorbell"`
	Dirty          bool              `json:"dirty"`
}

// vpeConfigTableDoc is what GICR_VPROPBASER (GICv4.1 form) says of the
// vPE configuration table.
type vpeConfigTableDoc struct {
	Valid    bool   `json:"valid"`
	Indirect bool   `json:"indirect"`
	Z        bool   `json:"z"`
	Addr     string `json:"addr"`
	Pages    int    `json:"pages"`
	PageSize int    `json:"page_size"`
}

// vpeDoc is a [VPEInfo].
type vpeDoc struct {
	VPE            model.VPEID   `json:"vpe"`
	VTE            string        `json:"vte"`
	RDbase         model.CPU     `json:"rdbase"`
	VPT            string        `json:"vpt"`
	VINTIDBits     int           `json:"vintid_bits"`
	ScheduledOn    *model.CPU    `json:"scheduled_on"` // null: not scheduled
	VPTPending     []model.INTID `json:"vpt_pending"`
	VPTPendingMore int           `json:"vpt_pending_more"`
	VPTError       string        `json:"vpt_error,omitempty"`
	// VSGIPending is written where the vSGIs were read (GICv4.1).
	VSGIPending *[]model.INTID `json:"vsgi_pending,omitempty"`
}

type collectionDoc struct {
	ICID model.ICID `json:"icid"`
	CPU  *model.CPU `json:"cpu"` // null: not mapped
}

type deviceDoc struct {
	Dev         model.DeviceID `json:"dev"`
	ITT         string         `json:"itt"`
	EventIDBits int            `json:"event_id_bits"`
	Events      []eventDoc     `json:"events"`
}

// eventDoc is an [EventInfo]: lpi and icid for a physical event, virtual
// (and neither of them) for a virtual one.
type eventDoc struct {
	Ev      model.EventID `json:"ev"`
	LPI     *model.INTID  `json:"lpi,omitempty"`
	ICID    *model.ICID   `json:"icid,omitempty"`
	Virtual *vEventDoc    `json:"virtual,omitempty"`
}

// vEventDoc is a [VirtualEvent].
type vEventDoc struct {
	VPE      model.VPEID  `json:"vpe"`
	VLPI     model.INTID  `json:"vlpi"`
	Doorbell *model.INTID `json:"doorbell"` // null: none
}

type lpiDoc struct {
	LPI      model.INTID `json:"lpi"`
	Priority uint8       `json:"priority"`
	Enabled  bool        `json:"enabled"`
}

// WriteJSON writes s as a JSON document, the "gicits-state" schema of
// docs/json.md.
func (s *State) WriteJSON(w io.Writer) error {
	its, vpes := itsStateDoc(s.ITS, s.VPEs)
	doc := stateDoc{
		Schema: "gicits-state", Version: JSONVersion, ITS: its,
		PropTable:      propTableDoc{Addr: hex64(uint64(s.PropTable)), IDBits: s.PropTableIDBits},
		Redistributors: []redistributorDoc{}, Collections: collectionsDoc(s.Collections), Devices: devicesDoc(s.Devices), LPIs: []lpiDoc{},
		VPEs: vpes,
	}
	for _, r := range s.Redistributors {
		rd := redistributorDoc{CPU: r.CPU, EnableLPIs: r.EnableLPIs, Pending: append([]model.INTID{}, r.Pending...)}
		if r.Virtual != nil {
			rd.Virtual = r.Virtual.doc()
		}
		doc.Redistributors = append(doc.Redistributors, rd)
	}
	for _, l := range s.LPIs {
		doc.LPIs = append(doc.LPIs, lpiDoc{LPI: l.INTID, Priority: l.Priority, Enabled: l.Enabled})
	}
	for _, i := range s.ITSes {
		its, vpes := itsStateDoc(i.ITS, i.VPEs)
		doc.ITSes = append(doc.ITSes, itsEntryDoc{Index: i.Index, Frames: hex64(uint64(i.Frames)), Doorbell: hex64(uint64(i.Doorbell())),
			ITS: its, Collections: collectionsDoc(i.Collections), Devices: devicesDoc(i.Devices), VPEs: vpes})
	}
	return writeJSON(w, doc)
}

// itsStateDoc is an ITS's registers in JSON, and its vPE table's entries
// (nil without a vPE table).
func itsStateDoc(s ITSState, vpes []VPEInfo) (itsDoc, *[]vpeDoc) {
	cb := s.CBASER
	d := itsDoc{
		Enabled: s.Enabled, CBASER: hex64(uint64(cb)), Queue: queueDoc{Addr: hex64(uint64(cb.Addr())), Pages: cb.Pages()},
		CREADR: hex64(s.CREADR), CWRITER: hex64(s.CWRITER), Stalled: s.Stalled,
		DeviceTable: s.DeviceTable.doc(), CollectionTable: s.CollectionTable.doc(),
	}
	if g := s.GICv41; g != nil {
		d.GICv41 = &itsV41Doc{NID: g.NID, VSGI: g.VSGI}
	}
	if s.VPETable == nil {
		return d, nil
	}
	t := s.VPETable.doc()
	d.VPETable = &t
	vd := []vpeDoc{}
	for _, p := range vpes {
		vd = append(vd, p.doc())
	}
	return d, &vd
}

// collectionsDoc is cs in JSON.
func collectionsDoc(cs []CollectionInfo) []collectionDoc {
	d := []collectionDoc{}
	for _, c := range cs {
		d = append(d, collectionDoc(c))
	}
	return d
}

// devicesDoc is ds in JSON.
func devicesDoc(ds []DeviceInfo) []deviceDoc {
	d := []deviceDoc{}
	for _, dev := range ds {
		dd := deviceDoc{Dev: dev.ID, ITT: hex64(uint64(dev.ITT)), EventIDBits: dev.EventIDBits, Events: []eventDoc{}}
		for _, e := range dev.Events {
			dd.Events = append(dd.Events, e.doc())
		}
		d = append(d, dd)
	}
	return d
}

// doc is t in JSON.
func (t TableBase) doc() tableDoc {
	if !t.Valid {
		return tableDoc{Baser: hex64(t.Baser)}
	}
	return tableDoc{Valid: true, validTableDoc: &validTableDoc{Type: t.Type, Indirect: t.Indirect, Addr: hex64(uint64(t.Addr)), Pages: t.Pages, PageSize: t.PageSize}}
}

// doc is e in JSON.
func (e EventInfo) doc() eventDoc {
	if v := e.Virtual; v != nil {
		vd := &vEventDoc{VPE: v.VPEID, VLPI: v.VINTID}
		if v.Doorbell != model.NoDoorbell {
			db := v.Doorbell
			vd.Doorbell = &db
		}
		return eventDoc{Ev: e.ID, Virtual: vd}
	}
	lpi, icid := e.LPI, e.ICID
	return eventDoc{Ev: e.ID, LPI: &lpi, ICID: &icid}
}

// doc is r in JSON.
func (r *VirtualRedistributor) doc() *vredistributorDoc {
	pb := r.VPendBaser
	d := &vredistributorDoc{
		VPropBaser: hex64(uint64(r.VPropBaser)), VPropTable: propTableDoc{Addr: hex64(uint64(r.VPropBaser.Addr())), IDBits: r.VPropBaser.IDBits()},
		VPendBaser: hex64(uint64(pb)), Valid: pb.Valid(), IDAI: pb.IDAI(), PendingLast: pb.PendingLast(), VPT: hex64(uint64(pb.Addr())),
		VPEs: append([]model.VPEID{}, r.VPEIDs...), Pending: append([]model.INTID{}, r.Pending...),
	}
	if r.GICv41 {
		prop, pb41 := r.VPropBaser41(), r.VPendBaser41()
		// The GICv4.0 reading of the bits means nothing here: no vLPI
		// configuration table, no IDAI; vpt is the scheduled vPE's, from
		// its VTE.
		d.VPropTable, d.IDAI, d.VPT = propTableDoc{Addr: hex64(0)}, false, hex64(uint64(r.VPT))
		d.V41 = &vredistributor41Doc{
			VPEConfigTable: vpeConfigTableDoc{Valid: prop.Valid(), Indirect: prop.Indirect(), Z: prop.Z(), Addr: hex64(uint64(prop.Addr())), Pages: prop.Pages(), PageSize: prop.PageSize()},
			VPEID:          pb41.VPEID(), VGrp0En: pb41.VGrp0En(), VGrp1En: pb41.VGrp1En(), Doorbell: pb41.Doorbell(), Dirty: pb41.Dirty(),
		}
	}
	return d
}

// doc is p in JSON.
func (p VPEInfo) doc() vpeDoc {
	d := vpeDoc{VPE: p.ID, VTE: hex64(uint64(p.Addr)), RDbase: p.RDbase, VPT: hex64(uint64(p.VPT)), VINTIDBits: p.VINTIDBits,
		ScheduledOn: p.ScheduledOn, VPTPending: append([]model.INTID{}, p.VPTPending...), VPTPendingMore: p.VPTPendingMore, VPTError: p.VPTError}
	if p.VSGIPending != nil {
		sgis := append([]model.INTID{}, p.VSGIPending...)
		d.VSGIPending = &sgis
	}
	return d
}
