package model

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Backend is the routing API: one GICv3 with an ITS and CPUs redistributors,
// driven the same way whether it is the simulator or Linux KVM.
//
// [Open] returns a backend set up as a guest driver leaves it after probing
// the ITS: GICR_PROPBASER and every GICR_PENDBASER programmed from the
// layout, GITS_BASER0 (devices), GITS_BASER1 (collections) and GITS_CBASER
// programmed from the layout, and GITS_CTLR.Enabled set. LPIs are not yet
// enabled on any redistributor: that is [EnableLPIs]. Every CPU
// interface is as a guest OS leaves it after init: ICC_PMR_EL1 = 0xFF,
// Group 1 enabled, no active priority.
//
// The interface is what a backend must do itself: registers, guest
// memory, MSIs and GSIs, the CPU interfaces, table save and restore.
// What a guest driver derives from those is written once in this package
// over any Backend: [EnableLPIs], [SetLPIConfig] and [SubmitCommands] (the
// command-queue writer), as [io.ReadFull] is written over [io.Reader].
//
// # Growing
//
// GICv4 (vPEs, VLPIs, the V* commands) and machines with several ITSes
// will not add a method per command or per ITS. Commands already travel
// as packets through the queue, so the GICv4 ones need only their codecs;
// what is new arrives as a few orthogonal methods (a vPE's registers and
// doorbell next to the redistributor's, an ITS chosen by an index next to
// the register methods), or as an optional interface that the helpers
// test for, as [SubmitCommands] tests for [CommandSubmitter], so that a
// backend without the feature needs no stub.
//
// Methods are safe for concurrent use. SignalMSI in particular may be called
// from many goroutines while commands execute.
//
// Errors wrap the sentinels of this package: [ErrBusy] where KVM would
// answer EBUSY, [ErrInvalidArgument] for bad input, [ErrNotSupported] for
// what the backend cannot do, [ErrClosed] after Close.
type Backend interface {
	// Name returns the name the backend is registered under.
	Name() string
	// Capabilities returns what the backend implements.
	Capabilities() Capabilities
	// Layout returns the guest physical layout the backend was opened with.
	Layout() Layout
	// Memory returns guest memory. Writes to tables the ITS owns while it
	// is enabled are UNPREDICTABLE, as on hardware.
	Memory() Memory

	// ReadITSRegister reads an ITS register (64-bit registers whole).
	ReadITSRegister(reg ITSRegister) (uint64, error)
	// WriteITSRegister writes an ITS register. A write to GITS_CWRITER
	// processes commands and returns their errors as [SubmitCommands]
	// does.
	WriteITSRegister(reg ITSRegister, v uint64) error
	// ReadRedistributorRegister and WriteRedistributorRegister access cpu's
	// RD_base frame (GICR_CTLR, GICR_PROPBASER, GICR_INVLPIR, ...).
	ReadRedistributorRegister(cpu CPU, reg GICRRegister) (uint64, error)
	WriteRedistributorRegister(cpu CPU, reg GICRRegister, v uint64) error

	// SignalMSI sends an MSI, with KVM_SIGNAL_MSI's meaning: Delivered,
	// Blocked (no translation), or an error (ErrBusy: the ITS or the
	// target's LPIs are disabled; ErrInvalidArgument: the doorbell is not
	// GITS_TRANSLATER, or the backend needs a DeviceID and m has none).
	SignalMSI(m MSI) (Delivery, error)
	// SetGSIRouting replaces the whole GSI routing table (at most
	// MaxGSIRoutes routes, GSIs below MaxGSIRoutes).
	SetGSIRouting(routes []Route) error
	// TriggerGSI raises gsi once, sending its route's MSI.
	TriggerGSI(gsi GSI) error
	// BindIRQFD returns a trigger bound to gsi, like an eventfd bound with
	// KVM_IRQFD: each Signal raises the GSI. Binding the same GSI twice
	// without closing the first trigger fails with ErrBusy.
	BindIRQFD(gsi GSI) (Trigger, error)

	// Pending returns the LPIs pending on cpu's redistributor, ascending.
	Pending(cpu CPU) ([]INTID, error)
	// Acknowledge reads ICC_IAR1_EL1 on cpu: the highest-priority pending,
	// enabled LPI whose priority is higher than both the priority mask and
	// the running priority, which stops being pending; SpuriousINTID when
	// there is none. Among equal priorities the choice is IMPLEMENTATION
	// DEFINED: the simulator picks the lowest INTID, KVM its list-register
	// order.
	Acknowledge(cpu CPU) (INTID, error)
	// EOI writes ICC_EOIR1_EL1 on cpu: priority drop of intid, which must
	// be the last acknowledged interrupt not yet EOId. A special INTID
	// (1020..1023, SpuriousINTID included) is ignored.
	EOI(cpu CPU, intid INTID) error
	// SetPriorityMask writes ICC_PMR_EL1 on cpu: only LPIs of priority
	// numerically below pmr are signalled.
	SetPriorityMask(cpu CPU, pmr uint8) error

	// SaveTables writes the ITS tables (device table, ITTs, collection
	// table) in KVM's ABI revision 0 layout, and every redistributor's
	// pending table, into guest memory: KVM_DEV_ARM_ITS_SAVE_TABLES plus
	// KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES.
	SaveTables() error
	// RestoreTables rebuilds the ITS's state from the tables in guest
	// memory (KVM_DEV_ARM_ITS_RESTORE_TABLES). A restore that fails leaves
	// the ITS as it was.
	RestoreTables() error

	// Close releases everything the backend holds. Calling it again
	// returns nil.
	Close() error
}

// Trigger raises a GSI each time it is signalled: the model of an eventfd
// bound with KVM_IRQFD.
type Trigger interface {
	// Signal raises the GSI once. Delivery may complete after Signal
	// returns on backends that inject asynchronously (KVM defers a
	// translation-cache miss to a worker).
	Signal() error
	// Close unbinds the trigger.
	Close() error
}

// CommandErrors returns the [*CommandError]s that err joins, in order.
func CommandErrors(err error) []*CommandError {
	var out []*CommandError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if ce, ok := e.(*CommandError); ok {
			out = append(out, ce)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// SplitCommandErrors separates the [*CommandError]s err joins, in order,
// from everything else it joins (nil when there is nothing else). An
// error that only wraps command errors (fmt.Errorf with %w) counts as
// them.
func SplitCommandErrors(err error) (cmdErrs []*CommandError, other error) {
	var others []error
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if ce, ok := e.(*CommandError); ok {
			cmdErrs = append(cmdErrs, ce)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		if len(CommandErrors(e)) > 0 {
			if u := errors.Unwrap(e); u != nil {
				walk(u)
				return
			}
		}
		others = append(others, e)
	}
	walk(err)
	return cmdErrs, errors.Join(others...)
}

// Config says how to open a backend.
type Config struct {
	// CPUs is the number of CPUs (redistributors); 0 means 1.
	CPUs int
	// Layout is the guest physical layout; the zero value means
	// DefaultLayout().
	Layout Layout
	// ErrorPolicy is what the ITS does on a command error. KVM supports
	// ContinueOnError only.
	ErrorPolicy ErrorPolicy
	// NoTranslationCache makes the simulator walk the tables in guest
	// memory on every MSI, as QEMU's emulated ITS does. KVM always caches.
	NoTranslationCache bool
	// ITSTyper is the GITS_TYPER to implement; 0 means KVMITSTyper. KVM
	// supports its own value only.
	ITSTyper ITSTyper
}

// WithDefaults returns c with zero fields replaced by their defaults.
func (c Config) WithDefaults() Config {
	if c.CPUs == 0 {
		c.CPUs = 1
	}
	if c.Layout == (Layout{}) {
		c.Layout = DefaultLayout()
	}
	if c.ITSTyper == 0 {
		c.ITSTyper = KVMITSTyper
	}
	return c
}

// OpenFunc opens a backend.
type OpenFunc func(Config) (Backend, error)

var registry struct {
	sync.Mutex
	open map[string]OpenFunc
}

// Register makes a backend available to [Open] under name. Backends
// register themselves from an init function; a program selects them by
// importing their packages. Registering a name twice panics: it is a
// programming error.
func Register(name string, open OpenFunc) {
	registry.Lock()
	defer registry.Unlock()
	if registry.open == nil {
		registry.open = map[string]OpenFunc{}
	}
	if _, dup := registry.open[name]; dup {
		panic("model: backend registered twice: " + name)
	}
	registry.open[name] = open
}

// Backends returns the registered backend names, sorted.
func Backends() []string {
	registry.Lock()
	defer registry.Unlock()
	names := make([]string, 0, len(registry.open))
	for name := range registry.open {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Open opens the backend registered under name. An unknown name fails with
// an error wrapping [ErrUnknownBackend] that lists the known ones.
func Open(name string, cfg Config) (Backend, error) {
	registry.Lock()
	open := registry.open[name]
	registry.Unlock()
	if open == nil {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownBackend, name, strings.Join(Backends(), ", "))
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Layout.Validate(cfg.CPUs); err != nil {
		return nil, err
	}
	b, err := open(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s backend: %w", name, err)
	}
	return b, nil
}
