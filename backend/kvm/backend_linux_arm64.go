//go:build linux && arm64

package kvm

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/gicits/gicits/backend/kvm/internal/kvmsys"
	"github.com/gicits/gicits/model"
)

// mailboxGPA is the guest physical address the guest program reads its
// requests from and writes its replies to (+8). Nothing is mapped there,
// so every access is a KVM_EXIT_MMIO. It lies in the hole QEMU's virt
// machine keeps for virtio-mmio, away from the GIC frames and RAM.
const mailboxGPA = model.GPA(0x0A00_0000)

// maxKVMLPIIDBits is the number of INTID bits KVM's vGICv3 implements
// (GICD_TYPER.IDbits = 15): LPIs below 2^16.
const maxKVMLPIIDBits = 16

// backend is the kvm backend. Locking: life guards the file descriptors
// (read-held by every operation, write-held by Close); mu serialises every
// access to vGIC/ITS state and to the vCPUs, so that no attribute access
// ever meets a vCPU inside KVM_RUN; memMu is read-held by every access
// through Memory and write-held (inside mu) while the backend writes guest
// memory itself: while Pending borrows the pending tables
// (pending_linux_arm64.go) and while SaveTables zeroes the tables and KVM
// saves into them, so that nobody sees them borrowed or half written, or
// writes to them meanwhile. The order is life, mu, memMu; code holding
// memMu writes through b.mem, never through Memory.
type backend struct {
	cfg    model.Config
	layout model.Layout
	caps   model.Capabilities

	life   sync.RWMutex
	closed bool
	memMu  sync.RWMutex

	mu    sync.Mutex
	kvm   *kvmsys.FD
	vm    *kvmsys.FD
	ram   *kvmsys.Mapping
	mem   *model.RAM
	vgic  *kvmsys.FD
	its   []*kvmsys.FD // one KVM_DEV_TYPE_ARM_VGIC_ITS per ITS of the layout; none without an ITS
	vcpus []*vcpu
	// routed holds the GSIs of the last SetGSIRouting, the only writer of
	// KVM's routing table: TriggerGSI's answer to "no route".
	routed   map[model.GSI]bool
	irqfds   map[model.GSI]*trigger
	loopAddr model.GPA
	// retargeted: something since the last Acknowledge may have left a
	// pending LPI on a vCPU it no longer targets (flush_linux_arm64.go).
	retargeted bool
	// queue holds each ITS's command queue as processCommands last left
	// it, which spares it two register reads on the next GITS_CWRITER
	// write. Every other write to that ITS's registers (writeITS) forgets
	// it: only those change GITS_CBASER or GITS_CREADR.
	queue []queueState
}

type queueState struct {
	known          bool
	cbaser, creadr uint64
}

func open(cfg model.Config, withITS bool) (model.Backend, error) {
	l := cfg.Layout
	if l.GICDBase == 0 && l.RAMSize == 0 {
		l = model.DefaultLayout()
	}
	if err := checkLayout(l, cfg.CPUs); err != nil {
		return nil, err
	}
	b := &backend{cfg: cfg, layout: l, routed: map[model.GSI]bool{}, irqfds: map[model.GSI]*trigger{}}
	if err := b.setUp(withITS); err != nil {
		b.Close()
		return nil, wrap(err)
	}
	return b, nil
}

// setUp brings the VM up, one phase at a time, in the order KVM requires:
// every vCPU exists before the vGIC is initialised, the GIC frames are
// placed before CTRL_INIT, the redistributors and the ITS are programmed
// after it, and the vCPUs first run when everything is in place.
func (b *backend) setUp(withITS bool) error {
	if err := b.createVM(); err != nil {
		return err
	}
	if err := b.loadGuestProgram(); err != nil {
		return err
	}
	if err := b.createVCPUs(); err != nil {
		return err
	}
	if err := b.createGIC(withITS); err != nil {
		return err
	}
	// KVM_CAP_MSI_DEVID is asked on the VM, now that the ITS exists (or
	// not): 1 exactly when the VM has an ITS.
	devid, err := kvmsys.CheckExtension(b.vm, kvmsys.KVM_CAP_MSI_DEVID)
	if err != nil {
		devid = 0
	}
	if err := b.initGIC(); err != nil {
		return err
	}
	if err := b.programRedistributors(); err != nil {
		return err
	}
	typer := model.KVMITSTyper
	for i := range b.its {
		if typer, err = b.programITS(i); err != nil {
			return err
		}
	}
	b.caps = model.Capabilities{
		CPUs:                 b.cfg.CPUs,
		NeedsDeviceID:        devid > 0,
		DeviceIDBits:         typer.DeviceIDBits(),
		EventIDBits:          typer.EventIDBits(),
		ICIDBits:             typer.ICIDBits(),
		ITTEntrySize:         typer.ITTEntrySize(),
		LPIIDBits:            min(b.layout.LPIIDBits, maxKVMLPIIDBits),
		ITSes:                len(b.its),
		ReportsCommandErrors: false,
		ErrorPolicies:        []model.ErrorPolicy{model.ContinueOnError},
	}
	m := readMachine("/")
	b.caps.Where, b.caps.Emulated = m.where(), m.emulated
	return b.startVCPUs()
}

// requiredCaps are the capabilities of /dev/kvm the backend cannot do
// without.
var requiredCaps = []struct {
	cap  int
	name string
}{
	{kvmsys.KVM_CAP_DEVICE_CTRL, "KVM_CAP_DEVICE_CTRL"},
	{kvmsys.KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI"},
	{kvmsys.KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
	{kvmsys.KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
}

// createVM opens /dev/kvm, checks its capabilities, and creates the VM
// with one memslot over the layout's RAM.
func (b *backend) createVM() (err error) {
	if b.kvm, err = openDevKVM(); err != nil {
		return err
	}
	for _, c := range requiredCaps {
		if v, err := kvmsys.CheckExtension(b.kvm, c.cap); err != nil || v <= 0 {
			return fmt.Errorf("KVM lacks %s (answer %d, %v): %w", c.name, v, err, model.ErrNotSupported)
		}
	}
	if b.vm, err = kvmsys.CreateVM(b.kvm); err != nil {
		return err
	}
	l := b.layout
	if b.ram, err = kvmsys.MapAnonymous(int(l.RAMSize)); err != nil {
		return fmt.Errorf("guest RAM: %w", err)
	}
	if err = kvmsys.SetUserMemoryRegion(b.vm, 0, uint64(l.RAMBase), b.ram); err != nil {
		return err
	}
	b.mem, err = model.RAMOver(l.RAMBase, b.ram.Bytes())
	return err
}

// loadGuestProgram writes the guest program (guest.go) at the start of
// the scratch region.
func (b *backend) loadGuestProgram() error {
	image, loopOff := guestImage()
	if err := b.mem.WriteAt(image, b.layout.Scratch); err != nil {
		return fmt.Errorf("guest program: %w", err)
	}
	b.loopAddr = b.layout.Scratch + model.GPA(loopOff)
	return nil
}

// createVCPUs creates every vCPU (PSCI 0.2), each set to start at the
// guest program with the mailbox's address in x0.
func (b *backend) createVCPUs() error {
	runSize, err := kvmsys.VCPUMmapSize(b.kvm)
	if err != nil {
		return err
	}
	target, err := kvmsys.PreferredTarget(b.vm)
	if err != nil {
		return err
	}
	target.Features[0] |= 1 << kvmsys.KVM_ARM_VCPU_PSCI_0_2
	for i := range b.cfg.CPUs {
		v, err := newVCPU(b.vm, i, runSize, target)
		if err != nil {
			return fmt.Errorf("vCPU %d: %w", i, err)
		}
		b.vcpus = append(b.vcpus, v)
		if err := kvmsys.SetOneReg(v.fd, kvmsys.CoreRegPC, uint64(b.layout.Scratch)); err != nil {
			return fmt.Errorf("vCPU %d: %w", i, err)
		}
		if err := kvmsys.SetOneReg(v.fd, kvmsys.CoreRegX(0), uint64(mailboxGPA)); err != nil {
			return fmt.Errorf("vCPU %d: %w", i, err)
		}
	}
	return nil
}

// createGIC creates the vGICv3 and, if withITS, the layout's ITSes, each
// at the layout's addresses.
func (b *backend) createGIC(withITS bool) (err error) {
	l := b.layout
	if b.vgic, err = createGICDevice(b.vm, kvmsys.KVM_DEV_TYPE_ARM_VGIC_V3); err != nil {
		return err
	}
	if err = kvmsys.SetAttr64(b.vgic, kvmsys.KVM_DEV_ARM_VGIC_GRP_ADDR, kvmsys.KVM_VGIC_V3_ADDR_TYPE_DIST, uint64(l.GICDBase)); err != nil {
		return fmt.Errorf("GICD address: %w", err)
	}
	if err = kvmsys.SetAttr64(b.vgic, kvmsys.KVM_DEV_ARM_VGIC_GRP_ADDR, kvmsys.KVM_VGIC_V3_ADDR_TYPE_REDIST, uint64(l.GICRBase)); err != nil {
		return fmt.Errorf("GICR address: %w", err)
	}
	if !withITS {
		return nil
	}
	for i := range l.ITSCount() {
		il, err := l.ForITS(i)
		if err != nil {
			return err
		}
		fd, err := createGICDevice(b.vm, kvmsys.KVM_DEV_TYPE_ARM_VGIC_ITS)
		if err != nil {
			return err
		}
		b.its = append(b.its, fd)
		b.queue = append(b.queue, queueState{})
		if err = kvmsys.SetAttr64(fd, kvmsys.KVM_DEV_ARM_VGIC_GRP_ADDR, kvmsys.KVM_VGIC_ITS_ADDR_TYPE, uint64(il.ITSBase)); err != nil {
			return fmt.Errorf("ITS %d address %v: %w", i, il.ITSBase, err)
		}
	}
	return nil
}

// initGIC initialises the vGICv3 and the ITS (CTRL_INIT) and sets
// GICD_CTLR.EnableGrp1A (ARE and DS read as one on KVM).
func (b *backend) initGIC() error {
	if err := kvmsys.SetAttrCtrl(b.vgic, kvmsys.KVM_DEV_ARM_VGIC_GRP_CTRL, kvmsys.KVM_DEV_ARM_VGIC_CTRL_INIT); err != nil {
		return fmt.Errorf("vGIC CTRL_INIT: %w", err)
	}
	for i, fd := range b.its {
		if err := kvmsys.SetAttrCtrl(fd, kvmsys.KVM_DEV_ARM_VGIC_GRP_CTRL, kvmsys.KVM_DEV_ARM_VGIC_CTRL_INIT); err != nil {
			return fmt.Errorf("ITS %d CTRL_INIT: %w", i, err)
		}
	}
	if err := kvmsys.SetAttr32(b.vgic, kvmsys.KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0, 0x2); err != nil {
		return fmt.Errorf("GICD_CTLR: %w", err)
	}
	return nil
}

// programRedistributors writes every redistributor's GICR_PROPBASER and
// GICR_PENDBASER from the layout.
func (b *backend) programRedistributors() error {
	prop, err := b.layout.PropBaser()
	if err != nil {
		return err
	}
	for i := range b.cfg.CPUs {
		pend, err := b.layout.PendBaser(model.CPU(i), false)
		if err != nil {
			return err
		}
		if err = b.writeGICR(model.CPU(i), model.GICR_PROPBASER, uint64(prop)); err != nil {
			return err
		}
		if err = b.writeGICR(model.CPU(i), model.GICR_PENDBASER, uint64(pend)); err != nil {
			return err
		}
	}
	return nil
}

// startVCPUs starts every vCPU: each runs the guest's set-up and parks at
// its first request.
func (b *backend) startVCPUs() error {
	for _, v := range b.vcpus {
		v.start()
		if err := v.park(); err != nil {
			return fmt.Errorf("vCPU %d: first KVM_RUN: %w", v.id, err)
		}
	}
	return nil
}

// checkLayout refuses layouts KVM cannot implement. A layout the model
// itself refuses gets the model's error unchanged, as from the simulator.
func checkLayout(l model.Layout, cpus int) error {
	if err := l.Validate(cpus); err != nil {
		return err
	}
	if l.ScratchSize < 4096 {
		return wrap(fmt.Errorf("the layout's scratch region (%d bytes) cannot hold the guest program: %w", l.ScratchSize, model.ErrInvalidArgument))
	}
	overlaps := func(a, n model.GPA) bool { return mailboxGPA < a+n && a < mailboxGPA+16 }
	extra := model.GPA(l.ITSCount()-1) * model.ITSFrameSize
	if overlaps(l.RAMBase, model.GPA(l.RAMSize)) || overlaps(l.GICDBase, 64<<10) || overlaps(l.ITSBase, 128<<10) || overlaps(l.GICRBase, model.GPA(cpus)*model.GICRSize) || overlaps(l.ExtraITSBase, extra) {
		return wrap(fmt.Errorf("the layout overlaps the guest program's mailbox at %v: %w", mailboxGPA, model.ErrInvalidArgument))
	}
	return nil
}

// createGICDevice creates the vGICv3 or the ITS. ENODEV or ENXIO from
// KVM_CREATE_DEVICE means the kernel lacks the device: errNoVGICv3 or
// errNoITS, still wrapping the errno (and so model.ErrNotSupported).
func createGICDevice(vm *kvmsys.FD, typ uint32) (*kvmsys.FD, error) {
	fd, err := createDevice(vm, typ)
	if err != nil {
		return nil, deviceError(typ, err)
	}
	return fd, nil
}

// programITS writes ITS i's device table, collection table and command
// queue registers from the layout, then GITS_CTLR.Enabled last, and
// returns GITS_TYPER as KVM reads it back.
func (b *backend) programITS(i int) (model.ITSTyper, error) {
	l, err := b.layout.ForITS(i)
	if err != nil {
		return 0, err
	}
	reset0, err := b.readITS(i, model.GITS_BASER(0))
	if err != nil {
		return 0, err
	}
	reset1, err := b.readITS(i, model.GITS_BASER(1))
	if err != nil {
		return 0, err
	}
	dev, err := l.DeviceBaser(model.Baser(reset0))
	if err != nil {
		return 0, err
	}
	coll, err := l.CollectionBaser(model.Baser(reset1))
	if err != nil {
		return 0, err
	}
	cb, err := l.CBASER()
	if err != nil {
		return 0, err
	}
	for _, w := range []struct {
		r model.ITSRegister
		v uint64
	}{{model.GITS_BASER(0), uint64(dev)}, {model.GITS_BASER(1), uint64(coll)}, {model.GITS_CBASER, uint64(cb)}, {model.GITS_CTLR, model.GITS_CTLR_Enabled}} {
		if err := b.writeITS(i, w.r, w.v); err != nil {
			return 0, err
		}
	}
	t, err := b.readITS(i, model.GITS_TYPER)
	return model.ITSTyper(t), err
}

// redistAttr returns the GRP_REDIST_REGS attribute of register offset off
// of cpu: its MPIDR affinity above the offset.
func redistAttr(cpu model.CPU, off uint32) uint64 {
	return uint64(model.Affinity(cpu))<<kvmsys.KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT | uint64(off)
}

// writeGICR writes a redistributor register: u32 values, so 64-bit
// registers as two halves. The caller holds mu (or is Open).
func (b *backend) writeGICR(cpu model.CPU, r model.GICRRegister, v uint64) error {
	if err := kvmsys.SetAttr32(b.vgic, kvmsys.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, redistAttr(cpu, uint32(r)), uint32(v)); err != nil {
		return fmt.Errorf("write %v of CPU %d: %w", r, cpu, err)
	}
	if r.Is64Bit() {
		if err := kvmsys.SetAttr32(b.vgic, kvmsys.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, redistAttr(cpu, uint32(r)+4), uint32(v>>32)); err != nil {
			return fmt.Errorf("write %v (high half) of CPU %d: %w", r, cpu, err)
		}
	}
	return nil
}

func (b *backend) readGICR(cpu model.CPU, r model.GICRRegister) (uint64, error) {
	lo, err := kvmsys.GetAttr32(b.vgic, kvmsys.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, redistAttr(cpu, uint32(r)))
	if err != nil {
		return 0, fmt.Errorf("read %v of CPU %d: %w", r, cpu, err)
	}
	v := uint64(lo)
	if r.Is64Bit() {
		hi, err := kvmsys.GetAttr32(b.vgic, kvmsys.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, redistAttr(cpu, uint32(r)+4))
		if err != nil {
			return 0, fmt.Errorf("read %v (high half) of CPU %d: %w", r, cpu, err)
		}
		v |= uint64(hi) << 32
	}
	return v, nil
}

// errVMWithoutITS is what every ITS operation gets on a VM opened without
// an ITS device (OpenWithoutITS).
var errVMWithoutITS = fmt.Errorf("this VM has no ITS: %w", model.ErrNotSupported)

// itsFD returns ITS i's device, or why there is none.
func (b *backend) itsFD(i int) (*kvmsys.FD, error) {
	switch {
	case len(b.its) == 0:
		return nil, errVMWithoutITS
	case i < 0 || i >= len(b.its):
		return nil, fmt.Errorf("ITS %d out of range 0..%d: %w", i, len(b.its)-1, model.ErrInvalidArgument)
	}
	return b.its[i], nil
}

// itsName names ITS i in errors: nothing for ITS 0, as with one ITS.
func itsName(i int) string {
	if i == 0 {
		return ""
	}
	return fmt.Sprintf("ITS %d: ", i)
}

func (b *backend) readITS(i int, r model.ITSRegister) (uint64, error) {
	fd, err := b.itsFD(i)
	if err != nil {
		return 0, fmt.Errorf("%sread %v: %w", itsName(i), r, err)
	}
	v, err := kvmsys.GetAttr64(fd, kvmsys.KVM_DEV_ARM_VGIC_GRP_ITS_REGS, uint64(r))
	if err != nil {
		return 0, fmt.Errorf("%sread %v: %w", itsName(i), r, err)
	}
	return v, nil
}

func (b *backend) writeITS(i int, r model.ITSRegister, v uint64) error {
	fd, err := b.itsFD(i)
	if err != nil {
		return fmt.Errorf("%swrite %v: %w", itsName(i), r, err)
	}
	b.queue[i].known = false
	if err := kvmsys.SetAttr64(fd, kvmsys.KVM_DEV_ARM_VGIC_GRP_ITS_REGS, uint64(r), v); err != nil {
		return fmt.Errorf("%swrite %v = %#x: %w", itsName(i), r, v, err)
	}
	return nil
}

// lockOpen read-locks life for an operation on the open backend. On
// success the caller holds life and releases it with b.life.RUnlock; on a
// closed backend it holds nothing and gets model.ErrClosed.
func (b *backend) lockOpen() error {
	b.life.RLock()
	if b.closed {
		b.life.RUnlock()
		return model.ErrClosed
	}
	return nil
}

// stopped runs f with every vCPU outside KVM_RUN: the one helper through
// which every vGIC/ITS attribute access goes. vCPUs are normally parked
// between requests already; one that is not (held in the guest) is stopped
// with immediate_exit and a signal, and restarted after f.
func (b *backend) stopped(f func() error) error {
	if err := b.lockOpen(); err != nil {
		return err
	}
	defer b.life.RUnlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	var held []*vcpu
	for _, v := range b.vcpus {
		if v.isHeld() {
			if err := v.stop(); err != nil {
				return err
			}
			held = append(held, v)
		}
	}
	err := f()
	for _, v := range held {
		v.resume()
	}
	return err
}

// Every exported method below returns its error through wrap, once; what
// it calls returns bare causes.

func (b *backend) Name() string { return Name }
func (b *backend) Capabilities() model.Capabilities {
	c := b.caps
	c.ErrorPolicies = slices.Clone(c.ErrorPolicies)
	return c
}
func (b *backend) Layout() model.Layout { return b.layout }
func (b *backend) Memory() model.Memory { return guardedMemory{b} }

func (b *backend) checkCPU(cpu model.CPU) error {
	if int(cpu) >= len(b.vcpus) {
		return fmt.Errorf("CPU %d of %d: %w", cpu, len(b.vcpus), model.ErrInvalidArgument)
	}
	return nil
}

func (b *backend) ReadITSRegister(reg model.ITSRegister) (uint64, error) {
	return b.ReadITSRegisterOf(0, reg)
}

// WriteITSRegister writes a register of ITS 0 (WriteITSRegisterOf).
func (b *backend) WriteITSRegister(reg model.ITSRegister, v uint64) error {
	return b.WriteITSRegisterOf(0, reg, v)
}

var _ model.MultiITS = (*backend)(nil)

// ITSView returns the backend as ITS i sees it (model.MultiITS).
func (b *backend) ITSView(i int) (model.Backend, error) {
	if i == 0 {
		return b, nil
	}
	if _, err := b.itsFD(i); err != nil {
		return nil, wrap(err)
	}
	return model.NewITSView(b, b, i)
}

// ReadITSRegisterOf reads a register of ITS i (model.ITSAccess).
func (b *backend) ReadITSRegisterOf(i int, reg model.ITSRegister) (uint64, error) {
	var v uint64
	err := b.stopped(func() (err error) {
		v, err = b.readITS(i, reg)
		return err
	})
	return v, wrap(err)
}

// WriteITSRegisterOf writes a register of ITS i (model.ITSAccess). A
// write that may make the ITS process commands (GITS_CWRITER, or
// GITS_CTLR setting Enabled) settles the LPIs the processed commands moved
// (flush_linux_arm64.go).
func (b *backend) WriteITSRegisterOf(i int, reg model.ITSRegister, v uint64) error {
	return wrap(b.stopped(func() error {
		if reg == model.GITS_CWRITER || reg == model.GITS_CTLR && v&model.GITS_CTLR_Enabled != 0 {
			return b.processCommands(i, reg, v)
		}
		return b.writeITS(i, reg, v)
	}))
}

func (b *backend) ReadRedistributorRegister(cpu model.CPU, reg model.GICRRegister) (uint64, error) {
	if err := b.checkCPU(cpu); err != nil {
		return 0, wrap(err)
	}
	var v uint64
	err := b.stopped(func() (err error) {
		v, err = b.readGICR(cpu, reg)
		return err
	})
	return v, wrap(err)
}

func (b *backend) WriteRedistributorRegister(cpu model.CPU, reg model.GICRRegister, v uint64) error {
	if err := b.checkCPU(cpu); err != nil {
		return wrap(err)
	}
	return wrap(b.stopped(func() error { return b.writeGICR(cpu, reg, v) }))
}

func (b *backend) SignalMSI(m model.MSI) (model.Delivery, error) {
	k, err := kvmMSI(m, b.caps.NeedsDeviceID)
	if err != nil {
		return model.Blocked, wrap(err)
	}
	if err := b.lockOpen(); err != nil {
		return model.Blocked, wrap(err)
	}
	defer b.life.RUnlock()
	r, err := kvmsys.SignalMSI(b.vm, &k)
	switch {
	case err != nil:
		return model.Blocked, wrap(fmt.Errorf("%v: %w", m, err))
	case r > 0:
		return model.Delivered, nil
	}
	return model.Blocked, nil
}

func (b *backend) SetGSIRouting(routes []model.Route) error {
	if len(routes) > model.MaxGSIRoutes {
		return wrap(fmt.Errorf("%d routes, at most %d: %w", len(routes), model.MaxGSIRoutes, model.ErrInvalidArgument))
	}
	entries := make([]kvmsys.IRQRoutingEntry, len(routes))
	routed := make(map[model.GSI]bool, len(routes))
	for i, r := range routes {
		e, err := kvmRoute(r, b.caps.NeedsDeviceID)
		if err != nil {
			return wrap(err)
		}
		entries[i] = e
		routed[r.GSI] = true
	}
	if err := b.lockOpen(); err != nil {
		return wrap(err)
	}
	defer b.life.RUnlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := kvmsys.SetGSIRouting(b.vm, entries); err != nil {
		return wrap(err)
	}
	b.routed = routed
	return nil
}

// TriggerGSI raises gsi through KVM's GSI routing table, as a device's
// irqfd does: it binds a fresh eventfd to gsi (KVM_IRQFD), signals it and
// unbinds it. KVM injects the route's MSI from the eventfd's wake-up on a
// translation-cache hit and defers a miss to a kernel worker; the unbind
// (kvm_irqfd_deassign) waits for that worker (irqfd_shutdown flushes the
// injection), so when TriggerGSI returns the MSI has been delivered or
// dropped, as SignalMSI's has, and never after (unlike a bound trigger's
// Signal: Differences, "irqfd-async"). A trigger bound with BindIRQFD to
// the same GSI stays bound: KVM refuses only one eventfd bound twice. The
// wait is an SRCU grace period: a TriggerGSI took 4-7 ms under the
// harness's nested TCG (6.1 and 6.12), where a SignalMSI takes ~50 us; a
// caller raising a GSI often binds a trigger, as a VMM binds a device's.
//
// arm64 KVM has no other way to raise an MSI-routed GSI (KVM_IRQ_LINE
// takes SPIs and PPIs, not routes), and an irqfd reports nothing: a route
// whose MSI KVM refuses delivers nothing and TriggerGSI returns nil
// (Differences, "trigger-unreported" and "route-devid"). Whether gsi has a
// route at all comes from the last SetGSIRouting: a GSI without one fails
// with ErrInvalidArgument, as on the simulator.
func (b *backend) TriggerGSI(gsi model.GSI) error {
	if err := b.lockOpen(); err != nil {
		return wrap(err)
	}
	defer b.life.RUnlock()
	b.mu.Lock()
	routed := b.routed[gsi]
	b.mu.Unlock()
	if !routed {
		return wrap(fmt.Errorf("GSI %d has no route: %w", gsi, model.ErrInvalidArgument))
	}
	return wrap(b.raiseGSI(gsi))
}

// raiseGSI binds an eventfd to gsi, signals it and unbinds it; the caller
// holds life.
func (b *backend) raiseGSI(gsi model.GSI) (err error) {
	efd, err := kvmsys.NewEventfd()
	if err != nil {
		return fmt.Errorf("GSI %d: %w", gsi, err)
	}
	defer func() {
		if cerr := efd.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("GSI %d: %w", gsi, cerr))
		}
	}()
	irqfd := kvmsys.IRQFD{FD: uint32(efd.Int()), GSI: uint32(gsi)}
	if err := kvmsys.SetIRQFD(b.vm, irqfd); err != nil {
		return fmt.Errorf("GSI %d: binding an irqfd: %w", gsi, err)
	}
	var errs []error
	if err := kvmsys.SignalEventfd(efd); err != nil {
		errs = append(errs, fmt.Errorf("GSI %d: signalling the irqfd: %w", gsi, err))
	}
	irqfd.Flags = kvmsys.KVM_IRQFD_FLAG_DEASSIGN
	if err := kvmsys.SetIRQFD(b.vm, irqfd); err != nil {
		errs = append(errs, fmt.Errorf("GSI %d: unbinding the irqfd: %w", gsi, err))
	}
	return errors.Join(errs...)
}

type trigger struct {
	b   *backend
	gsi model.GSI
	efd *kvmsys.FD

	mu     sync.Mutex
	closed bool
}

func (b *backend) BindIRQFD(gsi model.GSI) (model.Trigger, error) {
	if gsi >= model.MaxGSIRoutes {
		return nil, wrap(fmt.Errorf("GSI %d not below %d: %w", gsi, model.MaxGSIRoutes, model.ErrInvalidArgument))
	}
	if err := b.lockOpen(); err != nil {
		return nil, wrap(err)
	}
	defer b.life.RUnlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.irqfds[gsi]; dup {
		return nil, wrap(fmt.Errorf("GSI %d is already bound to an irqfd: %w", gsi, model.ErrBusy))
	}
	efd, err := kvmsys.NewEventfd()
	if err != nil {
		return nil, wrap(err)
	}
	if err := kvmsys.SetIRQFD(b.vm, kvmsys.IRQFD{FD: uint32(efd.Int()), GSI: uint32(gsi)}); err != nil {
		efd.Close()
		return nil, wrap(err)
	}
	t := &trigger{b: b, gsi: gsi, efd: efd}
	b.irqfds[gsi] = t
	return t, nil
}

func (t *trigger) Signal() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return wrap(fmt.Errorf("irqfd for GSI %d: %w", t.gsi, model.ErrClosed))
	}
	if err := kvmsys.SignalEventfd(t.efd); err != nil {
		return wrap(fmt.Errorf("irqfd for GSI %d: %w", t.gsi, err))
	}
	return nil
}

func (t *trigger) Close() error {
	t.b.life.RLock()
	defer t.b.life.RUnlock()
	t.b.mu.Lock()
	defer t.b.mu.Unlock()
	return wrap(t.closeLocked())
}

// closeLocked unbinds and closes the eventfd; the caller holds b.mu (or
// owns b exclusively, in Close).
func (t *trigger) closeLocked() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	delete(t.b.irqfds, t.gsi)
	var errs []error
	if t.b.vm != nil && t.b.vm.Int() >= 0 {
		if err := kvmsys.SetIRQFD(t.b.vm, kvmsys.IRQFD{FD: uint32(t.efd.Int()), GSI: uint32(t.gsi), Flags: kvmsys.KVM_IRQFD_FLAG_DEASSIGN}); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, t.efd.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("irqfd for GSI %d: %w", t.gsi, err)
	}
	return nil
}

func (b *backend) cpuRequest(cpu model.CPU, op guestOp, arg uint32) (uint64, error) {
	if err := b.checkCPU(cpu); err != nil {
		return 0, wrap(err)
	}
	var r uint64
	err := b.stopped(func() (err error) {
		if op == opAck {
			if err := b.settleMovedLPIs(int(cpu)); err != nil {
				return err
			}
		}
		r, err = b.vcpus[cpu].request(op, arg)
		return err
	})
	if err != nil {
		return 0, wrap(fmt.Errorf("CPU %d: %w", cpu, err))
	}
	return r, nil
}

func (b *backend) Acknowledge(cpu model.CPU) (model.INTID, error) {
	r, err := b.cpuRequest(cpu, opAck, 0)
	return model.INTID(uint32(r) & 0xFFFFFF), err
}

func (b *backend) EOI(cpu model.CPU, intid model.INTID) error {
	_, err := b.cpuRequest(cpu, opEOI, uint32(intid))
	return err
}

func (b *backend) SetPriorityMask(cpu model.CPU, pmr uint8) error {
	_, err := b.cpuRequest(cpu, opPMR, uint32(pmr))
	return err
}

// runningPriority reads ICC_RPR_EL1 on cpu.
func (b *backend) runningPriority(cpu model.CPU) (uint8, error) {
	r, err := b.cpuRequest(cpu, opRPR, 0)
	return uint8(r), err
}

// SaveTables zeroes the pending tables (savePendingTables), the device
// table (flat) and the collection table first, so that what KVM writes is
// the whole state and nothing stale shows. It write-holds memMu
// throughout: no access through Memory sees a table zeroed and not yet
// saved.
func (b *backend) SaveTables() error { return b.SaveTablesOf(0) }

// SaveTablesOf saves ITS i's tables and the pending tables, as SaveTables
// does ITS 0's (model.ITSAccess).
func (b *backend) SaveTablesOf(i int) error {
	return wrap(b.stopped(func() error {
		fd, err := b.itsFD(i)
		if err != nil {
			return err
		}
		b.memMu.Lock()
		defer b.memMu.Unlock()
		if err := b.savePendingTables(); err != nil {
			return err
		}
		for _, reg := range []model.ITSRegister{model.GITS_BASER(0), model.GITS_BASER(1)} {
			v, err := b.readITS(i, reg)
			if err != nil {
				return err
			}
			bs := model.Baser(v)
			if !bs.Valid() || bs.Indirect() {
				continue
			}
			if err := model.Zero(b.mem, bs.Addr(), int(bs.SizeBytes())); err != nil {
				return fmt.Errorf("clearing %v: %w", reg, err)
			}
		}
		if err := kvmsys.SetAttrCtrl(fd, kvmsys.KVM_DEV_ARM_VGIC_GRP_CTRL, kvmsys.KVM_DEV_ARM_ITS_SAVE_TABLES); err != nil {
			return fmt.Errorf("%sITS_SAVE_TABLES: %w", itsName(i), err)
		}
		return nil
	}))
}

// RestoreTables resets the ITS (KVM_DEV_ARM_ITS_CTRL_RESET) and restores
// it in the documented order: GITS_IIDR, GITS_CBASER, GITS_CREADR,
// GITS_CWRITER, GITS_BASER<n>, ITS_RESTORE_TABLES, GITS_CTLR.
func (b *backend) RestoreTables() error { return b.RestoreTablesOf(0) }

// RestoreTablesOf restores ITS i as RestoreTables does ITS 0
// (model.ITSAccess).
func (b *backend) RestoreTablesOf(i int) error {
	return wrap(b.stopped(func() error {
		fd, err := b.itsFD(i)
		if err != nil {
			return err
		}
		regs := []model.ITSRegister{model.GITS_IIDR, model.GITS_CBASER, model.GITS_CREADR, model.GITS_CWRITER, model.GITS_BASER(0), model.GITS_BASER(1), model.GITS_CTLR}
		vals := map[model.ITSRegister]uint64{}
		for _, r := range regs {
			v, err := b.readITS(i, r)
			if err != nil {
				return err
			}
			vals[r] = v
		}
		if err := b.writeITS(i, model.GITS_CTLR, 0); err != nil {
			return err
		}
		if err := kvmsys.SetAttrCtrl(fd, kvmsys.KVM_DEV_ARM_VGIC_GRP_CTRL, kvmsys.KVM_DEV_ARM_ITS_CTRL_RESET); err != nil {
			return fmt.Errorf("%sITS_CTRL_RESET: %w", itsName(i), err)
		}
		for _, r := range regs[:len(regs)-1] {
			if err := b.writeITS(i, r, vals[r]); err != nil {
				return fmt.Errorf("restore: %w", err)
			}
		}
		b.retargeted = true // restored ITEs may target other vCPUs than before
		var restoreErr error
		if err := kvmsys.SetAttrCtrl(fd, kvmsys.KVM_DEV_ARM_VGIC_GRP_CTRL, kvmsys.KVM_DEV_ARM_ITS_RESTORE_TABLES); err != nil {
			restoreErr = fmt.Errorf("%sITS_RESTORE_TABLES: %w", itsName(i), err)
		}
		// GITS_CTLR is written back whether or not the restore worked;
		// enabling the ITS runs commands waiting in the restored queue, and
		// processCommands settles after them.
		if err := b.processCommands(i, model.GITS_CTLR, vals[model.GITS_CTLR]&model.GITS_CTLR_Enabled); err != nil {
			return errors.Join(restoreErr, fmt.Errorf("restore: %w", err))
		}
		return restoreErr
	}))
}

// Close stops every vCPU thread and releases every fd and mapping, in
// reverse order of creation. It is safe after a failed Open and while
// vCPUs run; a second call returns nil.
func (b *backend) Close() error {
	b.life.Lock()
	defer b.life.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	var errs []error
	for _, v := range b.vcpus {
		errs = append(errs, v.shutdown())
	}
	for _, t := range b.irqfds {
		errs = append(errs, t.closeLocked())
	}
	for _, fd := range b.its {
		errs = append(errs, fd.Close())
	}
	errs = append(errs, b.vgic.Close())
	for _, v := range b.vcpus {
		errs = append(errs, v.run.Close(), v.fd.Close())
	}
	errs = append(errs, b.vm.Close(), b.ram.Close(), b.kvm.Close())
	if err := errors.Join(errs...); err != nil {
		return wrap(fmt.Errorf("close: %w", err))
	}
	return nil
}
