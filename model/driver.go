package model

import (
	"errors"
	"fmt"
	"sync"
)

// What a guest driver does with the ITS and the redistributors, written
// once over any [Backend] as [io.ReadFull] is written over [io.Reader]:
// the backend offers registers and guest memory, and these functions do
// the driver's part (read-modify-write a register, write a table byte,
// fill the command queue, set up collections and devices) in the one way
// every backend then shares.
//
// A backend, or a decorator, that has a better way implements the matching
// optional interface ([LPIEnabler], [LPIConfigSetter], [CommandSubmitter]),
// as a type implements [io.WriterTo]: the function calls it instead. The
// trace decorator in package inspect does, to log the call as one event
// and then call the function on the backend it wraps; so does a test fake
// with no registers. As with io.WriterTo, a decorator that embeds a
// Backend does not pass the optional interfaces of the backend it wraps
// on: the functions then take the generic way through the decorator's
// methods, which works where the wrapped backend has the registers but
// skips what its own way did (the trace decorator's events, say), and
// fails on a backend that has none (the bench fake). A decorator that
// must keep them implements them itself.
//
// Errors these functions make themselves begin with the backend's name
// (b.Name()): they describe that backend's state. Errors of the backend's
// own methods pass through as they are.

// LPIEnabler is implemented by a backend that enables LPIs its own way;
// [EnableLPIs] calls it.
type LPIEnabler interface {
	EnableLPIs(cpu CPU) error
}

// LPIConfigSetter is implemented by a backend that writes LPI
// configuration its own way; [SetLPIConfig] calls it.
type LPIConfigSetter interface {
	SetLPIConfig(intid INTID, cfg LPIConfig) error
}

// CommandSubmitter is implemented by a backend that submits commands its
// own way; [SubmitCommands] calls it. An implementation keeps the contract
// of SubmitCommands.
type CommandSubmitter interface {
	SubmitCommands(cmds ...Command) error
}

// EnableLPIs sets GICR_CTLR.EnableLPIs on cpu's redistributor: a
// read-modify-write of GICR_CTLR. [Open] programs GICR_PROPBASER and
// GICR_PENDBASER from the layout first; pending bits already in the
// pending table are loaded (PTZ = 0).
func EnableLPIs(b Backend, cpu CPU) error {
	if e, ok := b.(LPIEnabler); ok {
		return e.EnableLPIs(cpu)
	}
	ctlr, err := b.ReadRedistributorRegister(cpu, GICR_CTLR)
	if err != nil {
		return err
	}
	return b.WriteRedistributorRegister(cpu, GICR_CTLR, ctlr|GICR_CTLR_EnableLPIs)
}

// SetLPIConfig writes intid's byte in the LPI configuration table that
// GICR_PROPBASER (of CPU 0: software programs every redistributor alike)
// points at, through b.Memory(). An INTID that is not an LPI below
// 2^GICR_PROPBASER.IDbits fails with an error wrapping
// [ErrInvalidArgument]. As on hardware the redistributor caches
// configuration: the change takes effect after INV, INVALL, GICR_INVLPIR
// or GICR_INVALLR.
func SetLPIConfig(b Backend, intid INTID, cfg LPIConfig) error {
	if s, ok := b.(LPIConfigSetter); ok {
		return s.SetLPIConfig(intid, cfg)
	}
	v, err := b.ReadRedistributorRegister(0, GICR_PROPBASER)
	if err != nil {
		return err
	}
	prop := PropBaser(v)
	if intid < LPIBase || uint64(intid) >= uint64(1)<<prop.IDBits() {
		return fmt.Errorf("%s: INTID %d is not an LPI covered by GICR_PROPBASER (IDbits %d): %w", b.Name(), intid, prop.IDBits(), ErrInvalidArgument)
	}
	return b.Memory().WriteAt([]byte{byte(cfg)}, prop.Addr()+GPA(intid-LPIBase))
}

// queueMu makes the generic writer of [SubmitCommands] the only one
// between its read of GITS_CWRITER and its write: a function over an
// interface has nowhere else to keep a lock per backend, and a submission
// is short, so one lock for the process costs little.
var queueMu sync.Mutex

// SubmitCommands writes the commands into the command queue at
// GITS_CWRITER, advances GITS_CWRITER and returns once the ITS has
// processed them (or stalled), as a guest driver does:
//
//   - it encodes every command first: if one is nil or does not encode,
//     nothing is queued and the error wraps [ErrInvalidArgument];
//   - GITS_CBASER must be valid, or it fails with an error wrapping
//     [ErrBusy] and writes nothing;
//   - in batches as long as the free space allows, it reads GITS_CWRITER
//     and GITS_CREADR, writes the packets into guest memory (wrapping at
//     the end of the queue) and writes GITS_CWRITER, which processes them.
//
// The returned error joins a [*CommandError] for every command that
// failed, in queue order (see [CommandErrors]); a backend that cannot
// observe command errors returns none. Other errors wrap a sentinel:
// ErrBusy when the queue is stalled (GITS_CREADR.Stalled) or full, and the
// commands not yet queued are dropped; ErrBusy also when the ITS is
// disabled: the commands are written and wait in the queue, and run when
// GITS_CTLR.Enabled is set (IHI 0069, 6.2.2), but they have not run, which
// the caller must know.
//
// Calls are safe for concurrent use: the generic writer serialises every
// submission in the process. A GITS_CWRITER written by hand
// ([Backend.WriteITSRegister]) at the same time is the caller's race, as
// it would be a guest's.
func SubmitCommands(b Backend, cmds ...Command) error {
	if s, ok := b.(CommandSubmitter); ok {
		return s.SubmitCommands(cmds...)
	}
	packets, err := encodeAll(b.Name(), cmds)
	if err != nil {
		return err
	}
	queueMu.Lock()
	defer queueMu.Unlock()
	return writeQueue(b, packets)
}

// encodeAll encodes every command, or returns the first error.
func encodeAll(name string, cmds []Command) ([]Packet, error) {
	packets := make([]Packet, len(cmds))
	for i, c := range cmds {
		if c == nil {
			return nil, fmt.Errorf("%s: command %d is nil: %w", name, i, ErrInvalidArgument)
		}
		p, err := c.Encode()
		if err != nil {
			return nil, fmt.Errorf("%s: command %d (%v): %w", name, i, c.Opcode(), err)
		}
		packets[i] = p
	}
	return packets, nil
}

// writeQueue is the ring writer of [SubmitCommands]; the caller holds
// queueMu.
func writeQueue(b Backend, packets []Packet) error {
	name := b.Name()
	cbv, err := b.ReadITSRegister(GITS_CBASER)
	if err != nil {
		return err
	}
	cb := CBASER(cbv)
	if !cb.Valid() {
		return fmt.Errorf("%s: GITS_CBASER %#x is not valid: there is no command queue to write %d commands to: %w", name, cbv, len(packets), ErrBusy)
	}
	base, size := cb.Addr(), uint64(cb.SizeBytes())
	mem := b.Memory()
	queued := 0
	var errs []error
	for queued < len(packets) {
		cw, err := b.ReadITSRegister(GITS_CWRITER)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		cr, err := b.ReadITSRegister(GITS_CREADR)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		left := len(packets) - queued
		if cr&GITS_CREADR_Stalled != 0 {
			errs = append(errs, fmt.Errorf("%s: the command queue is stalled at offset %#x (write GITS_CWRITER with Retry to resume); %d commands not queued: %w", name, cr&GITS_CQ_OffsetMask, left, ErrBusy))
			break
		}
		cw &= GITS_CQ_OffsetMask
		cr &= GITS_CQ_OffsetMask
		if cw >= size || cr >= size {
			errs = append(errs, fmt.Errorf("%s: GITS_CREADR %#x or GITS_CWRITER %#x lies beyond the %d-byte command queue; %d commands not queued: %w", name, cr, cw, size, left, ErrBusy))
			break
		}
		free := (cr + size - cw - CommandSize) % size / CommandSize
		if free == 0 {
			errs = append(errs, fmt.Errorf("%s: the command queue is full (GITS_CREADR %#x, GITS_CWRITER %#x; is the ITS disabled?); %d commands not queued: %w", name, cr, cw, left, ErrBusy))
			break
		}
		n := min(uint64(left), free)
		for _, p := range packets[queued : queued+int(n)] {
			if err := mem.WriteAt(p[:], base+GPA(cw)); err != nil {
				return errors.Join(append(errs, fmt.Errorf("%s: writing the command queue: %w", name, err))...)
			}
			cw = (cw + CommandSize) % size
		}
		if err := b.WriteITSRegister(GITS_CWRITER, cw); err != nil {
			errs = append(errs, err)
			if _, other := SplitCommandErrors(err); other != nil {
				// The write itself failed: whether this batch ran is unknown,
				// and the next would overwrite it. Stop, saying so.
				errs = append(errs, fmt.Errorf("%s: writing GITS_CWRITER failed: %d commands may not have run and %d were not queued", name, n, left-int(n)))
				return errors.Join(errs...)
			}
		}
		queued += int(n)
	}
	ctlr, err := b.ReadITSRegister(GITS_CTLR)
	switch {
	case err != nil:
		errs = append(errs, err)
	case ctlr&GITS_CTLR_Enabled == 0:
		errs = append(errs, fmt.Errorf("%s: the ITS is disabled (GITS_CTLR.Enabled = 0): %d commands wait in the queue and run when it is enabled: %w", name, queued, ErrBusy))
	}
	return errors.Join(errs...)
}

// The set-up a guest OS's ITS driver does, over any Backend: one
// collection per CPU, and per device an ITT sized for its events, each
// event's LPI configured and mapped. The CLI's demo and bench's workloads
// both set the ITS up this way.

// An Event is one event of a device as a driver maps it: its EventID, the
// LPI it becomes, the collection it is delivered through, and the LPI's
// configuration.
type Event struct {
	EventID EventID
	INTID   INTID
	ICID    ICID
	Config  LPIConfig
}

// EnableCollections enables LPIs on CPUs 0..cpus-1 and returns the MAPC
// that maps collection i to CPU i (RDbase is the processor number: GITS_TYPER.PTA
// is 0 on both backends), for the caller to submit with the rest.
func EnableCollections(b Backend, cpus int) ([]Command, error) {
	cmds := make([]Command, 0, cpus)
	for cpu := range cpus {
		if err := EnableLPIs(b, CPU(cpu)); err != nil {
			return nil, err
		}
		cmds = append(cmds, MAPC{ICID: ICID(cpu), RDbase: uint64(cpu), Valid: true})
	}
	return cmds, nil
}

// MapDevice allocates dev's ITT from alloc, with room for EventIDs up to
// the largest in events (at least one bit), writes each event's LPI
// configuration, and returns the ITT's address and the commands that map
// the device: MAPD, then a MAPTI per event, for the caller to submit. As
// on hardware, a redistributor may cache LPI configuration: software that
// changes it for a mapped LPI invalidates it afterwards (INV, INVALL).
func MapDevice(b Backend, alloc *Allocator, dev DeviceID, events []Event) (GPA, []Command, error) {
	bits := 1
	for _, e := range events {
		for uint64(e.EventID) >= 1<<bits {
			bits++
		}
	}
	itt, err := alloc.Alloc(ITTSize(bits, b.Capabilities().ITTEntrySize), 256)
	if err != nil {
		return 0, nil, err
	}
	cmds := make([]Command, 0, 1+len(events))
	cmds = append(cmds, MAPD{DeviceID: dev, Size: uint8(bits - 1), ITTAddr: itt, Valid: true})
	for _, e := range events {
		if err := SetLPIConfig(b, e.INTID, e.Config); err != nil {
			return 0, nil, err
		}
		cmds = append(cmds, MAPTI{DeviceID: dev, EventID: e.EventID, INTID: e.INTID, ICID: e.ICID})
	}
	return itt, cmds, nil
}
