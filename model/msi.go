package model

import "fmt"

// MSI is a message-signalled interrupt: a write of Data to Doorbell by the
// device DeviceID. For the ITS, Doorbell is GITS_TRANSLATER and Data is the
// EventID.
//
// The DeviceID is sideband information from the bus. Routing code always
// computes it, and marks it valid (DeviceIDValid, KVM's
// KVM_MSI_VALID_DEVID) only when the backend needs one
// ([Capabilities.NeedsDeviceID], KVM's KVM_CAP_MSI_DEVID): use
// [Capabilities.Prepare].
type MSI struct {
	Doorbell      GPA
	Data          uint32
	DeviceID      DeviceID
	DeviceIDValid bool
}

// EventID returns the MSI's data as an ITS EventID.
func (m MSI) EventID() EventID { return EventID(m.Data) }

func (m MSI) String() string {
	if m.DeviceIDValid {
		return fmt.Sprintf("MSI dev=%#x ev=%d doorbell=%v", uint32(m.DeviceID), m.Data, m.Doorbell)
	}
	return fmt.Sprintf("MSI ev=%d doorbell=%v (no DeviceID)", m.Data, m.Doorbell)
}

// Route is one entry of the GSI routing table: raising GSI sends MSI. A
// route always carries its DeviceID; whether it is handed to the backend as
// valid is decided by [Capabilities.Prepare].
type Route struct {
	GSI GSI
	MSI MSI
}

func (r Route) String() string { return fmt.Sprintf("gsi=%d -> %v", r.GSI, r.MSI) }

// Delivery is the outcome of an MSI the backend accepted, with
// KVM_SIGNAL_MSI's meaning.
type Delivery int

const (
	// Blocked: the ITS did not translate the MSI (unmapped device or
	// event, unmapped collection); no LPI became pending. KVM returns 0.
	Blocked Delivery = iota
	// Delivered: the LPI is pending on its target redistributor (it may
	// have been pending already: MSIs coalesce). KVM returns 1.
	Delivered
)

func (d Delivery) String() string {
	if d == Delivered {
		return "delivered"
	}
	return "blocked"
}

// ErrorPolicy is what the ITS does when a command fails.
type ErrorPolicy int

const (
	// ContinueOnError: the ITS skips the failing command and goes on, as
	// Linux KVM does (GITS_CREADR always advances).
	ContinueOnError ErrorPolicy = iota
	// StallOnError: the ITS stops at the failing command with
	// GITS_CREADR.Stalled set until software writes GITS_CWRITER
	// (IHI 0069, 6.2.3 "Command errors").
	StallOnError
)

func (p ErrorPolicy) String() string {
	if p == StallOnError {
		return "stall"
	}
	return "continue"
}

// Capabilities says what a backend's ITS and redistributors implement and
// what it can observe.
type Capabilities struct {
	// CPUs is the number of redistributors (processor numbers 0..CPUs-1).
	CPUs int
	// NeedsDeviceID: MSIs must carry a valid DeviceID (KVM_CAP_MSI_DEVID).
	NeedsDeviceID bool
	// Widths from GITS_TYPER and GICR_PROPBASER.
	DeviceIDBits int
	EventIDBits  int
	ICIDBits     int
	// ITTEntrySize is GITS_TYPER.ITT_entry_size + 1 (KVM's 8, QEMU's 12);
	// [Capabilities.ITTStride] is the stride to use.
	ITTEntrySize int
	LPIIDBits    int
	// ReportsCommandErrors: command errors come back from GITS_CWRITER
	// writes and so from [SubmitCommands] (the simulator). KVM drops them
	// silently.
	ReportsCommandErrors bool
	// ITSes is the number of ITSes (Layout.ITSes); more than one means
	// the backend implements [MultiITS].
	ITSes int
	// VirtualLPIs: the backend models GICv4.0 vPEs (GITS_TYPER.Virtual):
	// it implements [VirtualCPUInterface] and executes the V* commands.
	VirtualLPIs bool
	// ErrorPolicies lists the error policies the backend can be opened
	// with.
	ErrorPolicies []ErrorPolicy
	// Where says where the backend runs, for reports: the simulator runs
	// in this process; KVM names its kernel and its machine.
	Where string
	// Emulated: the backend's CPUs are emulated (KVM nested under QEMU's
	// TCG), so its absolute times mean nothing; only ratios between runs
	// taken there do.
	Emulated bool
}

// ITTStride returns how far apart an ITT's entries are: ITTEntrySize, or
// 8 bytes (the ABI revision 0 ITE) for a backend that does not say; each
// entry holds the ITE in its first 8 bytes.
func (c Capabilities) ITTStride() uint64 {
	return uint64(max(c.ITTEntrySize, TableEntrySize))
}

// Prepare returns m as generic routing code hands it to a backend with
// these capabilities: DeviceIDValid set exactly when the backend needs a
// DeviceID. The DeviceID itself is always kept.
func (c Capabilities) Prepare(m MSI) MSI {
	m.DeviceIDValid = c.NeedsDeviceID
	return m
}

// PrepareRoute is [Capabilities.Prepare] for a GSI route.
func (c Capabilities) PrepareRoute(r Route) Route {
	r.MSI = c.Prepare(r.MSI)
	return r
}
