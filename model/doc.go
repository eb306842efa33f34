// Package model is the shared vocabulary of gicits and its routing API.
//
// It owns everything that both backends (the simulator in backend/sim and
// real Linux KVM in backend/kvm) and every tool above them must agree on:
//
//   - identifiers: [DeviceID], [EventID], [INTID], [ICID], [CPU], [GSI], and
//     guest physical addresses ([GPA]);
//   - the ITS command codec: every GICv3 physical command and every
//     GICv4.0/4.1 virtual one (VMAPP, VMAPTI, ..., VSGI) as a typed value,
//     encoded to and decoded from the 32-byte command packet
//     (Arm IHI 0069, chapter 6, "ITS commands"; IHI 0069H, 5.3 for GICv4).
//     The simulator executes the GICv4 ones when opened with a GICv4 ITS
//     ([GICv4ITSTyper], [GICv41ITSTyper]); KVM's GICv3 ITS ignores them,
//     and a GICv3 simulator reports each with an [OpcodeError];
//   - the GICv4 vocabulary beyond commands: the VLPI_base registers in
//     their 4.0 and 4.1 forms, the vPE table entry and the virtual ITE of
//     the simulator's IMPLEMENTATION DEFINED tables, and the virtual CPU
//     interface of a scheduled vPE ([VirtualCPUInterface]);
//   - several ITSes sharing the redistributors ([Layout.ForITS],
//     [MultiITS], [ITSOf]);
//   - the ITS and redistributor register encodings that software programs;
//   - the table entry formats of Linux KVM's ITS table ABI revision 0
//     (Documentation/virt/kvm/devices/arm-vgic-its.rst): [DTE], [ITE], [CTE]
//     and [L1Entry];
//   - guest physical memory ([Memory]) and the one guest-physical [Layout]
//     shared by both backends;
//   - MSIs, GSI routes and [Capabilities], including the rule that decides
//     when a DeviceID is handed to a backend as valid;
//   - the [Backend] interface and the name registry ([Register], [Open]);
//   - what a guest driver does over any Backend, written once:
//     [EnableLPIs], [SetLPIConfig], [SubmitCommands] (the one command-queue
//     writer), and the set-up of collections and devices
//     ([EnableCollections], [MapDevice]).
//
// Package model depends on the standard library only. It never touches the
// host: nothing here opens a file, issues a system call or starts a
// goroutine.
package model
