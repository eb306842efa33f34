package replay

import (
	"fmt"
	"reflect"

	"github.com/gicits/gicits/model"
)

// An Event is one QEMU trace event of the GICv3 ITS, its redistributors or
// its CPU interface, with the fields QEMU printed. Each kind is a struct
// type of this package whose fields are the event's arguments in the
// order QEMU's hw/intc/trace-events declares them.
//
// Values are printed as QEMU printed them: a field named like a register
// or table field holds that field's value, not a number derived from it
// (so [CmdMAPD.ITTAddr] is ITT_addr bits 51:8, as QEMU prints it).
// Redistributor and CPU-interface events name their CPU by its affinity,
// as QEMU's gicv3_redist_affid() gives it; [Guest.CPUOf] turns it into a
// processor number.
type Event interface {
	// Name returns the event's name: "gicv3_its_cmd_mapd".
	Name() string
	// Format returns the event's message format, QEMU's with PRIx64
	// written as %x: "GICv3 ITS: command MAPD DeviceID 0x%x ...".
	Format() string
}

// Message returns e's message as QEMU's log backend prints it after the
// event's name: Format with the fields filled in.
func Message(e Event) string {
	s := specOf(e)
	if s == nil {
		return fmt.Sprintf("%+v", e)
	}
	v := reflect.ValueOf(e)
	vals := make([]uint64, v.NumField())
	for i := range vals {
		vals[i] = fieldValue(v.Field(i))
	}
	return s.format.print(vals)
}

// ITE_INTTYPE values of QEMU's interrupt translation entries
// (hw/intc/gicv3_internal.h).
const (
	IntTypeVirtual  = 0
	IntTypePhysical = 1
)

// Register accesses of the ITS control frame (gicv3_its_read, _write and
// their bad variants, from hw/intc/arm_gicv3_its.c). Offset is the
// register's offset in the frame; 64-bit registers may be accessed as two
// 32-bit halves (Size 4, the high half at Offset+4). A write is traced
// after it took effect, so commands a GITS_CWRITER write processed appear
// before it.

// ITSRead is gicv3_its_read: a guest read of an ITS register.
type ITSRead struct {
	Offset uint64
	Data   uint64
	Size   uint32
}

// ITSBadRead is gicv3_its_badread: a guest read at an offset with no
// register (it reads as zero).
type ITSBadRead struct {
	Offset uint64
	Size   uint32
}

// ITSWrite is gicv3_its_write: a guest write of an ITS register.
type ITSWrite struct {
	Offset uint64
	Data   uint64
	Size   uint32
}

// ITSBadWrite is gicv3_its_badwrite: a guest write at an offset with no
// register (ignored).
type ITSBadWrite struct {
	Offset uint64
	Data   uint64
	Size   uint32
}

// TranslationWrite is gicv3_its_translation_write: a write to the ITS
// translation frame, an MSI when Offset is GITS_TRANSLATER's 0x40 there.
// Data is the EventID and RequesterID the DeviceID. When the ITS is
// enabled, the table reads of the translation follow it (DTERead,
// ITERead, CTERead); the LPI they name becomes pending on the
// redistributor the collection names, which QEMU does not trace.
type TranslationWrite struct {
	Offset      uint64
	Data        uint64
	Size        uint32
	RequesterID model.DeviceID
}

// ProcessCommand is gicv3_its_process_command: the ITS read a command
// from the queue. Offset is the command's index in the queue (QEMU's
// rd_offset: GITS_CREADR.Offset / 32, not a byte offset). The command's
// own event follows.
type ProcessCommand struct {
	Offset uint32
	Opcode model.Opcode
}

// CmdINT is gicv3_its_cmd_int: an INT command (IHI 0069, 6.3.6).
type CmdINT struct {
	DeviceID model.DeviceID
	EventID  model.EventID
}

// CmdCLEAR is gicv3_its_cmd_clear: a CLEAR command (6.3.2).
type CmdCLEAR struct {
	DeviceID model.DeviceID
	EventID  model.EventID
}

// CmdDISCARD is gicv3_its_cmd_discard: a DISCARD command (6.3.4).
type CmdDISCARD struct {
	DeviceID model.DeviceID
	EventID  model.EventID
}

// CmdSYNC is gicv3_its_cmd_sync: a SYNC command (6.3.19). QEMU does not
// trace its RDbase.
type CmdSYNC struct{}

// CmdMAPD is gicv3_its_cmd_mapd: a MAPD command (6.3.11).
type CmdMAPD struct {
	DeviceID model.DeviceID
	// Size is DW1[4:0], the number of EventID bits minus one.
	Size uint32
	// ITTAddr is the ITT_addr field, DW2[51:8], as QEMU prints it: the
	// ITT's address shifted right by 8 (see [CmdMAPD.ITT]).
	ITTAddr uint64
	Valid   bool
}

// ITT returns the guest physical address of the ITT: ITTAddr << 8.
func (c CmdMAPD) ITT() model.GPA { return model.GPA(c.ITTAddr << 8) }

// CmdMAPC is gicv3_its_cmd_mapc: a MAPC command (6.3.10). RDbase is the
// processor number (QEMU's GITS_TYPER.PTA is 0); QEMU prints 0 when Valid
// is clear.
type CmdMAPC struct {
	ICID   model.ICID
	RDbase uint64
	Valid  bool
}

// CmdMAPI is gicv3_its_cmd_mapi: a MAPI command (6.3.12).
type CmdMAPI struct {
	DeviceID model.DeviceID
	EventID  model.EventID
	ICID     model.ICID
}

// CmdMAPTI is gicv3_its_cmd_mapti: a MAPTI command (6.3.13). QEMU prints
// the ICID before the pINTID.
type CmdMAPTI struct {
	DeviceID model.DeviceID
	EventID  model.EventID
	ICID     model.ICID
	INTID    model.INTID
}

// CmdINV is gicv3_its_cmd_inv: an INV command (6.3.7).
type CmdINV struct {
	DeviceID model.DeviceID
	EventID  model.EventID
}

// CmdINVALL is gicv3_its_cmd_invall: an INVALL command (6.3.8). QEMU does
// not trace its ICID.
type CmdINVALL struct{}

// CmdMOVALL is gicv3_its_cmd_movall: a MOVALL command (6.3.15); the
// RDbases are processor numbers.
type CmdMOVALL struct {
	RDbase1 uint64
	RDbase2 uint64
}

// CmdMOVI is gicv3_its_cmd_movi: a MOVI command (6.3.16). ICID is the new
// collection.
type CmdMOVI struct {
	DeviceID model.DeviceID
	EventID  model.EventID
	ICID     model.ICID
}

// CmdUnknown is gicv3_its_cmd_unknown: a command whose opcode QEMU does
// not know (it skips it).
type CmdUnknown struct {
	Opcode uint32
}

// Table accesses (hw/intc/arm_gicv3_its.c get_cte, update_cte, get_ite,
// update_ite, get_dte, update_dte): they follow the command or the
// translation that made them. Entries are QEMU's own formats: its ITT
// entries are 12 bytes (GITS_TYPER.ITT_entry_size 11).

// CTERead is gicv3_its_cte_read: a collection table entry read. RDbase is
// a processor number.
type CTERead struct {
	ICID   model.ICID
	Valid  bool
	RDbase uint32
}

// CTEWrite is gicv3_its_cte_write: a collection table entry written by
// MAPC.
type CTEWrite struct {
	ICID   model.ICID
	Valid  bool
	RDbase uint32
}

// CTEReadFault is gicv3_its_cte_read_fault: a collection table read that
// faulted.
type CTEReadFault struct {
	ICID model.ICID
}

// ITERead is gicv3_its_ite_read: an interrupt translation entry read.
// ITTAddr is the ITT's address (not shifted); IntType is IntTypePhysical
// or IntTypeVirtual; Doorbell is 1023 for an entry MAPTI or MAPI wrote.
type ITERead struct {
	ITTAddr  uint64
	EventID  model.EventID
	Valid    bool
	IntType  int32
	INTID    model.INTID
	ICID     model.ICID
	VPEID    uint32
	Doorbell uint32
}

// ITEWrite is gicv3_its_ite_write: an interrupt translation entry written
// by MAPTI, MAPI, MOVI or DISCARD (Valid clear).
type ITEWrite struct {
	ITTAddr  uint64
	EventID  model.EventID
	Valid    bool
	IntType  int32
	INTID    model.INTID
	ICID     model.ICID
	VPEID    uint32
	Doorbell uint32
}

// ITEReadFault is gicv3_its_ite_read_fault.
type ITEReadFault struct {
	ITTAddr uint64
	EventID model.EventID
}

// DTERead is gicv3_its_dte_read: a device table entry read. ITTAddr is
// the ITT's address (not shifted).
type DTERead struct {
	DeviceID model.DeviceID
	Valid    bool
	Size     uint32
	ITTAddr  uint64
}

// DTEWrite is gicv3_its_dte_write: a device table entry written by MAPD.
// QEMU prints ITTAddr as MAPD's field, the address shifted right by 8.
type DTEWrite struct {
	DeviceID model.DeviceID
	Valid    bool
	Size     uint32
	ITTAddr  uint64
}

// DTEReadFault is gicv3_its_dte_read_fault.
type DTEReadFault struct {
	DeviceID model.DeviceID
}

// Redistributor events (hw/intc/arm_gicv3_redist.c). Affinity is the
// redistributor's (GICR_TYPER bits 63:32); Offset is within its frames
// (RD_base, then SGI_base at 0x10000).

// RedistRead is gicv3_redist_read: a guest read of a redistributor
// register.
type RedistRead struct {
	Affinity uint32
	Offset   uint64
	Data     uint64
	Size     uint32
	Secure   bool
}

// RedistBadRead is gicv3_redist_badread.
type RedistBadRead struct {
	Affinity uint32
	Offset   uint64
	Size     uint32
	Secure   bool
}

// RedistWrite is gicv3_redist_write: a guest write of a redistributor
// register.
type RedistWrite struct {
	Affinity uint32
	Offset   uint64
	Data     uint64
	Size     uint32
	Secure   bool
}

// RedistBadWrite is gicv3_redist_badwrite.
type RedistBadWrite struct {
	Affinity uint32
	Offset   uint64
	Data     uint64
	Size     uint32
	Secure   bool
}

// RedistSetIRQ is gicv3_redist_set_irq: a PPI input changed level.
type RedistSetIRQ struct {
	Affinity uint32
	IRQ      int32
	Level    int32
}

// RedistSendSGI is gicv3_redist_send_sgi: an SGI became pending.
type RedistSendSGI struct {
	Affinity uint32
	IRQ      int32
}

// CPU-interface events (hw/intc/arm_gicv3_cpuif.c): traced only with
// -trace 'gicv3_icc*'. They are how a trace shows acknowledges.

// ICCIAR1Read is gicv3_icc_iar1_read: the CPU acknowledged Value (an
// INTID; 1023 when nothing was pending).
type ICCIAR1Read struct {
	Affinity uint32
	Value    uint64
}

// ICCEOIRWrite is gicv3_icc_eoir_write: the CPU ended the interrupt Value
// of group Group.
type ICCEOIRWrite struct {
	Group    int32
	Affinity uint32
	Value    uint64
}

func (ITSRead) Name() string          { return "gicv3_its_read" }
func (ITSBadRead) Name() string       { return "gicv3_its_badread" }
func (ITSWrite) Name() string         { return "gicv3_its_write" }
func (ITSBadWrite) Name() string      { return "gicv3_its_badwrite" }
func (TranslationWrite) Name() string { return "gicv3_its_translation_write" }
func (ProcessCommand) Name() string   { return "gicv3_its_process_command" }
func (CmdINT) Name() string           { return "gicv3_its_cmd_int" }
func (CmdCLEAR) Name() string         { return "gicv3_its_cmd_clear" }
func (CmdDISCARD) Name() string       { return "gicv3_its_cmd_discard" }
func (CmdSYNC) Name() string          { return "gicv3_its_cmd_sync" }
func (CmdMAPD) Name() string          { return "gicv3_its_cmd_mapd" }
func (CmdMAPC) Name() string          { return "gicv3_its_cmd_mapc" }
func (CmdMAPI) Name() string          { return "gicv3_its_cmd_mapi" }
func (CmdMAPTI) Name() string         { return "gicv3_its_cmd_mapti" }
func (CmdINV) Name() string           { return "gicv3_its_cmd_inv" }
func (CmdINVALL) Name() string        { return "gicv3_its_cmd_invall" }
func (CmdMOVALL) Name() string        { return "gicv3_its_cmd_movall" }
func (CmdMOVI) Name() string          { return "gicv3_its_cmd_movi" }
func (CmdUnknown) Name() string       { return "gicv3_its_cmd_unknown" }
func (CTERead) Name() string          { return "gicv3_its_cte_read" }
func (CTEWrite) Name() string         { return "gicv3_its_cte_write" }
func (CTEReadFault) Name() string     { return "gicv3_its_cte_read_fault" }
func (ITERead) Name() string          { return "gicv3_its_ite_read" }
func (ITEWrite) Name() string         { return "gicv3_its_ite_write" }
func (ITEReadFault) Name() string     { return "gicv3_its_ite_read_fault" }
func (DTERead) Name() string          { return "gicv3_its_dte_read" }
func (DTEWrite) Name() string         { return "gicv3_its_dte_write" }
func (DTEReadFault) Name() string     { return "gicv3_its_dte_read_fault" }
func (RedistRead) Name() string       { return "gicv3_redist_read" }
func (RedistBadRead) Name() string    { return "gicv3_redist_badread" }
func (RedistWrite) Name() string      { return "gicv3_redist_write" }
func (RedistBadWrite) Name() string   { return "gicv3_redist_badwrite" }
func (RedistSetIRQ) Name() string     { return "gicv3_redist_set_irq" }
func (RedistSendSGI) Name() string    { return "gicv3_redist_send_sgi" }
func (ICCIAR1Read) Name() string      { return "gicv3_icc_iar1_read" }
func (ICCEOIRWrite) Name() string     { return "gicv3_icc_eoir_write" }

// The formats, from QEMU's hw/intc/trace-events (the gicv3_its_* events
// as QEMU 7.1 and later print them; 7.2 is what Debian 12 ships).
func (ITSRead) Format() string    { return "GICv3 ITS read: offset 0x%x data 0x%x size %u" }
func (ITSBadRead) Format() string { return "GICv3 ITS read: offset 0x%x size %u: error" }
func (ITSWrite) Format() string   { return "GICv3 ITS write: offset 0x%x data 0x%x size %u" }
func (ITSBadWrite) Format() string {
	return "GICv3 ITS write: offset 0x%x data 0x%x size %u: error"
}
func (TranslationWrite) Format() string {
	return "GICv3 ITS TRANSLATER write: offset 0x%x data 0x%x size %u requester_id 0x%x"
}
func (ProcessCommand) Format() string {
	return "GICv3 ITS: processing command at offset 0x%x: 0x%x"
}
func (CmdINT) Format() string { return "GICv3 ITS: command INT DeviceID 0x%x EventID 0x%x" }
func (CmdCLEAR) Format() string {
	return "GICv3 ITS: command CLEAR DeviceID 0x%x EventID 0x%x"
}
func (CmdDISCARD) Format() string {
	return "GICv3 ITS: command DISCARD DeviceID 0x%x EventID 0x%x"
}
func (CmdSYNC) Format() string { return "GICv3 ITS: command SYNC" }
func (CmdMAPD) Format() string {
	return "GICv3 ITS: command MAPD DeviceID 0x%x Size 0x%x ITT_addr 0x%x V %d"
}
func (CmdMAPC) Format() string { return "GICv3 ITS: command MAPC ICID 0x%x RDbase 0x%x V %d" }
func (CmdMAPI) Format() string {
	return "GICv3 ITS: command MAPI DeviceID 0x%x EventID 0x%x ICID 0x%x"
}
func (CmdMAPTI) Format() string {
	return "GICv3 ITS: command MAPTI DeviceID 0x%x EventID 0x%x ICID 0x%x pINTID 0x%x"
}
func (CmdINV) Format() string    { return "GICv3 ITS: command INV DeviceID 0x%x EventID 0x%x" }
func (CmdINVALL) Format() string { return "GICv3 ITS: command INVALL" }
func (CmdMOVALL) Format() string {
	return "GICv3 ITS: command MOVALL RDbase1 0x%x RDbase2 0x%x"
}
func (CmdMOVI) Format() string {
	return "GICv3 ITS: command MOVI DeviceID 0x%x EventID 0x%x ICID 0x%x"
}
func (CmdUnknown) Format() string { return "GICv3 ITS: unknown command 0x%x" }
func (CTERead) Format() string {
	return "GICv3 ITS: Collection Table read for ICID 0x%x: valid %d RDBase 0x%x"
}
func (CTEWrite) Format() string {
	return "GICv3 ITS: Collection Table write for ICID 0x%x: valid %d RDBase 0x%x"
}
func (CTEReadFault) Format() string {
	return "GICv3 ITS: Collection Table read for ICID 0x%x: faulted"
}
func (ITERead) Format() string {
	return "GICv3 ITS: Interrupt Table read for ITTaddr 0x%x EventID 0x%x: valid %d inttype %d intid 0x%x ICID 0x%x vPEID 0x%x doorbell 0x%x"
}
func (ITEWrite) Format() string {
	return "GICv3 ITS: Interrupt Table write for ITTaddr 0x%x EventID 0x%x: valid %d inttype %d intid 0x%x ICID 0x%x vPEID 0x%x doorbell 0x%x"
}
func (ITEReadFault) Format() string {
	return "GICv3 ITS: Interrupt Table read for ITTaddr 0x%x EventID 0x%x: faulted"
}
func (DTERead) Format() string {
	return "GICv3 ITS: Device Table read for DeviceID 0x%x: valid %d size 0x%x ITTaddr 0x%x"
}
func (DTEWrite) Format() string {
	return "GICv3 ITS: Device Table write for DeviceID 0x%x: valid %d size 0x%x ITTaddr 0x%x"
}
func (DTEReadFault) Format() string {
	return "GICv3 ITS: Device Table read for DeviceID 0x%x: faulted"
}
func (RedistRead) Format() string {
	return "GICv3 redistributor 0x%x read: offset 0x%x data 0x%x size %u secure %d"
}
func (RedistBadRead) Format() string {
	return "GICv3 redistributor 0x%x read: offset 0x%x size %u secure %d: error"
}
func (RedistWrite) Format() string {
	return "GICv3 redistributor 0x%x write: offset 0x%x data 0x%x size %u secure %d"
}
func (RedistBadWrite) Format() string {
	return "GICv3 redistributor 0x%x write: offset 0x%x data 0x%x size %u secure %d: error"
}
func (RedistSetIRQ) Format() string {
	return "GICv3 redistributor 0x%x interrupt %d level changed to %d"
}
func (RedistSendSGI) Format() string { return "GICv3 redistributor 0x%x pending SGI %d" }
func (ICCIAR1Read) Format() string   { return "GICv3 ICC_IAR1 read cpu 0x%x value 0x%x" }
func (ICCEOIRWrite) Format() string  { return "GICv3 ICC_EOIR%d write cpu 0x%x value 0x%x" }

// kinds lists one value of every event kind this package parses.
var kinds = []Event{
	ITSRead{}, ITSBadRead{}, ITSWrite{}, ITSBadWrite{}, TranslationWrite{}, ProcessCommand{},
	CmdINT{}, CmdCLEAR{}, CmdDISCARD{}, CmdSYNC{}, CmdMAPD{}, CmdMAPC{}, CmdMAPI{}, CmdMAPTI{},
	CmdINV{}, CmdINVALL{}, CmdMOVALL{}, CmdMOVI{}, CmdUnknown{},
	CTERead{}, CTEWrite{}, CTEReadFault{}, ITERead{}, ITEWrite{}, ITEReadFault{},
	DTERead{}, DTEWrite{}, DTEReadFault{},
	RedistRead{}, RedistBadRead{}, RedistWrite{}, RedistBadWrite{}, RedistSetIRQ{}, RedistSendSGI{},
	ICCIAR1Read{}, ICCEOIRWrite{},
}

// Kinds returns the names of the events Parse turns into an [Event], in
// the order this package declares them. Other lines that look like trace
// events are kept in [Trace.Unknown].
func Kinds() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Name()
	}
	return names
}

// A spec is what parsing one kind of event needs.
type spec struct {
	format format
	typ    reflect.Type
}

var specs = func() map[string]*spec {
	m := make(map[string]*spec, len(kinds))
	for _, k := range kinds {
		f, err := compileFormat(k.Format())
		if err != nil {
			panic("replay: " + k.Name() + ": " + err.Error())
		}
		t := reflect.TypeOf(k)
		if t.NumField() != f.verbs() {
			panic(fmt.Sprintf("replay: %s: %d fields for %d conversions", k.Name(), t.NumField(), f.verbs()))
		}
		m[k.Name()] = &spec{format: f, typ: t}
	}
	return m
}()

func specOf(e Event) *spec {
	s := specs[e.Name()]
	if s == nil || s.typ != reflect.TypeOf(e) {
		return nil
	}
	return s
}

// decode makes the event s describes from a message, or says why it
// cannot: where the message stops matching, or which value does not fit.
func (s *spec) decode(msg string) (Event, error) {
	vals, mm := s.format.scan(msg)
	if mm != nil {
		return nil, fmt.Errorf("at column %d: want %s, have %q", mm.col+1, mm.want, excerpt(msg[mm.col:]))
	}
	v := reflect.New(s.typ).Elem()
	for i, x := range vals {
		if err := setField(v.Field(i), s.format.pieces[i].verb, x); err != nil {
			return nil, fmt.Errorf("%s: %v", s.typ.Field(i).Name, err)
		}
	}
	return v.Interface().(Event), nil
}

// setField stores x, read by verb, in f, refusing a value f cannot hold.
func setField(f reflect.Value, verb byte, x uint64) error {
	switch f.Kind() {
	case reflect.Bool:
		if x > 1 {
			return fmt.Errorf("%d is not 0 or 1", int64(x))
		}
		f.SetBool(x == 1)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if verb == 'd' && int64(x) < 0 || f.OverflowUint(x) {
			return fmt.Errorf("%s does not fit %d bits", printed(verb, x), f.Type().Bits())
		}
		f.SetUint(x)
	case reflect.Int32, reflect.Int64:
		if verb != 'd' && x > 1<<63-1 || f.OverflowInt(int64(x)) {
			return fmt.Errorf("%s does not fit a signed %d-bit number", printed(verb, x), f.Type().Bits())
		}
		f.SetInt(int64(x))
	default:
		panic("replay: field kind " + f.Kind().String())
	}
	return nil
}

func printed(verb byte, x uint64) string {
	if verb == 'x' {
		return fmt.Sprintf("%#x", x)
	}
	if verb == 'd' {
		return fmt.Sprint(int64(x))
	}
	return fmt.Sprint(x)
}

func fieldValue(f reflect.Value) uint64 {
	switch f.Kind() {
	case reflect.Bool:
		if f.Bool() {
			return 1
		}
		return 0
	case reflect.Int32, reflect.Int64:
		return uint64(f.Int())
	}
	return f.Uint()
}

// excerpt shortens s for an error message.
func excerpt(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
