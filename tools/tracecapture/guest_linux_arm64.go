//go:build linux && arm64

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runGuest is the guest subcommand: the scenario of doc.go, as process 1 of
// the guest. It returns the exit status when it cannot power off.
func runGuest(args []string, out io.Writer) int {
	fs := flag.NewFlagSet("guest", flag.ContinueOnError)
	fs.SetOutput(out)
	steps := fs.String("steps", strings.Join(allSteps, ","), "the steps to run, comma-separated: "+strings.Join(allSteps, ","))
	reads := fs.Int("reads", 32, "blocks read from each disk, per CPU, in the traffic step (a quarter of it in the other steps' bursts)")
	frames := fs.Int("frames", 8, "ARP requests sent, per CPU, in the traffic step (a quarter of it in the other steps' bursts)")
	wait := fs.Duration("wait", 45*time.Second, "how long to wait for a device to appear or disappear")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(out, "tracecapture guest: runs only as a QEMU guest's /init (process 1): it unbinds and offlines what it finds")
		return 2
	}
	g := &guest{out: out, reads: max(*reads, 1), frames: max(*frames, 1), wait: *wait}
	err := g.run(*steps)
	if err != nil {
		writeMarker(out, "failed: %v", err)
	} else {
		writeMarker(out, "done")
	}
	syscall.Sync()
	err = syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	fmt.Fprintf(out, "tracecapture: power off: %v\n", err)
	return 1
}

// guest is the scenario's state.
type guest struct {
	out           io.Writer // the console
	reads, frames int       // per CPU, in the traffic step
	wait          time.Duration
	cpus          []int // the CPUs online at the start
	devices       []*device
}

// say writes a line of progress on the console.
func (g *guest) say(format string, args ...any) {
	fmt.Fprintf(g.out, "tracecapture: "+format+"\n", args...)
}

// run runs the whole scenario but the power-off.
func (g *guest) run(stepList string) error {
	steps, err := parseSteps(stepList)
	if err != nil {
		return err
	}
	if err := mountAll(); err != nil {
		return err
	}
	release, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	online, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return err
	}
	if g.cpus, err = parseCPUList(string(online)); err != nil {
		return err
	}
	g.say("kernel %s, CPUs %s, steps %s", strings.TrimSpace(string(release)), strings.TrimSpace(string(online)), stepList)
	if err := g.loadModules("/modules"); err != nil {
		return err
	}
	g.devices = []*device{
		{id: idNet, class: "/sys/class/net", prefixes: []string{"eth", "en"}},
		{id: idBlk, class: "/sys/block", prefixes: []string{"vd"}},
		{id: idNVMe, class: "/sys/block", prefixes: []string{"nvme"}},
	}
	for _, d := range g.devices {
		if err := g.waitFound(d); err != nil {
			return err
		}
	}
	for _, s := range allSteps {
		if !steps[s] {
			continue
		}
		g.say("step %s", s)
		var err error
		switch s {
		case stepTraffic:
			err = g.burst(g.cpus, g.reads, g.frames, g.devices...)
		case stepCPU:
			err = g.cpuOfflineOnline()
		case stepRebind:
			err = g.forEachDevice(g.rebind)
		case stepHotplug:
			err = g.forEachDevice(g.hotplug)
		}
		if err != nil {
			return fmt.Errorf("step %s: %w", s, err)
		}
	}
	return nil
}

// mountAll mounts the kernel's file systems.
func mountAll() error {
	for _, m := range []struct{ source, target, fstype string }{
		{"devtmpfs", "/dev", "devtmpfs"},
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
	} {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return err
		}
		if err := syscall.Mount(m.source, m.target, m.fstype, 0, ""); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err)
		}
	}
	return nil
}

// loadModules loads dir's *.ko in name order. A module already loaded is
// fine.
func (g *guest) loadModules(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.ko"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		start := time.Now()
		err = finitModule(int(f.Fd()))
		f.Close()
		switch {
		case errors.Is(err, syscall.EEXIST):
			g.say("module %s: already loaded", filepath.Base(name))
		case err != nil:
			return fmt.Errorf("loading %s: %w", name, err)
		default:
			g.say("module %s: loaded in %v", filepath.Base(name), time.Since(start).Round(time.Millisecond))
		}
	}
	return nil
}

// A device is one of the three PCI devices the scenario drives, found by
// the name its class device has in class (an interface in /sys/class/net, a
// disk in /sys/block).
type device struct {
	id       string   // QEMU's id for it
	class    string   // its class directory
	prefixes []string // the names it may have there start with one of these
	name     string   // its class device: eth0, vda, nvme0n1
	pci      string   // its PCI function: 0000:01:00.0
}

func (d *device) isNet() bool { return d.class == "/sys/class/net" }

// find looks for the device's class device, and sets name and pci from the
// first it finds.
func (d *device) find() bool {
	entries, err := os.ReadDir(d.class)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !hasAnyPrefix(e.Name(), d.prefixes) {
			continue
		}
		real, err := filepath.EvalSymlinks(filepath.Join(d.class, e.Name()))
		if err != nil {
			continue
		}
		if pci, ok := pciAddressOf(real); ok {
			d.name, d.pci = e.Name(), pci
			return true
		}
	}
	return false
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// waitFound waits for d's class device to appear.
func (g *guest) waitFound(d *device) error {
	if err := g.waitUntil(d.id+" appears in "+d.class, d.find); err != nil {
		return err
	}
	g.say("%s: %s at PCI %s, driver %s", d.id, d.name, d.pci, pciDriver(d.pci))
	return nil
}

// waitUntil polls cond until it holds, for at most g.wait.
func (g *guest) waitUntil(what string, cond func() bool) error {
	deadline := time.Now().Add(g.wait)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %v for %s", g.wait, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// pciDriver returns the name of the driver bound to the PCI function pci,
// or "" when none is.
func pciDriver(pci string) string {
	link, err := os.Readlink(filepath.Join("/sys/bus/pci/devices", pci, "driver"))
	if err != nil {
		return ""
	}
	return filepath.Base(link)
}

func exists(name string) bool {
	_, err := os.Lstat(name)
	return err == nil
}

func (g *guest) forEachDevice(f func(*device) error) error {
	for _, d := range g.devices {
		if err := f(d); err != nil {
			return fmt.Errorf("%s: %w", d.id, err)
		}
	}
	return nil
}

// burst runs traffic on every device of devs, on each CPU of cpus in turn:
// reads blocks from each disk, frames ARP requests on each interface.
func (g *guest) burst(cpus []int, reads, frames int, devs ...*device) error {
	for _, c := range cpus {
		err := onCPU(c, func() error {
			for _, d := range devs {
				var err error
				if d.isNet() {
					err = g.arpTraffic(d, frames)
				} else {
					err = readBlocks(d.name, reads)
				}
				if err != nil {
					return fmt.Errorf("%s (%s) on CPU %d: %w", d.id, d.name, c, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	var names []string
	for _, d := range devs {
		names = append(names, d.name)
	}
	g.say("traffic on CPUs %v through %s: per CPU, %d reads of each disk, %d ARP requests on each interface", cpus, strings.Join(names, ", "), reads, frames)
	return nil
}

// shortBurst is the traffic after each change in the cpu, rebind and hotplug
// steps.
func (g *guest) shortBurst(cpus []int, devs ...*device) error {
	return g.burst(cpus, max(g.reads/4, 1), max(g.frames/4, 1), devs...)
}

// onCPU runs f on a thread of its own bound to cpu. The thread ends with
// f: a goroutine that exits locked to its thread takes the thread with it.
func onCPU(cpu int, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := pinThread(cpu); err != nil {
			done <- err
			return
		}
		done <- f()
	}()
	return <-done
}

// blockSize is the size and alignment of each O_DIRECT read.
const blockSize = 4096

// readBlocks reads n blocks of the disk name, spread over the disk, with
// O_DIRECT so that each read reaches the device.
func readBlocks(name string, n int) error {
	sectors, err := readInt(filepath.Join("/sys/block", name, "size"))
	if err != nil {
		return err
	}
	blocks := sectors * 512 / blockSize
	if blocks == 0 {
		return fmt.Errorf("/dev/%s is smaller than a block", name)
	}
	fd, err := syscall.Open("/dev/"+name, syscall.O_RDONLY|syscall.O_DIRECT|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/%s: %w", name, err)
	}
	defer syscall.Close(fd)
	// mmap's memory is page aligned, as O_DIRECT needs.
	buf, err := syscall.Mmap(-1, 0, blockSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	defer syscall.Munmap(buf)
	for i := range n {
		off := int64(i*7919%blocks) * blockSize // a prime stride visits the whole disk
		if _, err := syscall.Pread(fd, buf, off); err != nil {
			return fmt.Errorf("read /dev/%s at %d: %w", name, off, err)
		}
	}
	return nil
}

func readInt(name string) (int, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// htons converts a 16-bit value to network byte order on a little-endian
// CPU (arm64 and amd64 Linux both are).
func htons(v uint16) uint16 { return v<<8 | v>>8 }

// arpReplyWait is how long arpTraffic waits for each ARP reply.
const arpReplyWait = 200 * time.Millisecond

// arpTraffic sets the interface of d up and sends n ARP requests for the
// user-mode network's gateway on an AF_PACKET socket, waiting for each
// reply (a missing reply is noted, not an error: the transmit interrupt
// happened).
func (g *guest) arpTraffic(d *device, n int) error {
	if err := setInterfaceUp(d.name); err != nil {
		return err
	}
	ifindex, err := readInt(filepath.Join("/sys/class/net", d.name, "ifindex"))
	if err != nil {
		return err
	}
	addr, err := os.ReadFile(filepath.Join("/sys/class/net", d.name, "address"))
	if err != nil {
		return err
	}
	mac, err := net.ParseMAC(strings.TrimSpace(string(addr)))
	if err != nil {
		return err
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, int(htons(etherTypeARP)))
	if err != nil {
		return fmt.Errorf("socket(AF_PACKET): %w", err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(etherTypeARP), Ifindex: ifindex}); err != nil {
		return fmt.Errorf("bind AF_PACKET to %s: %w", d.name, err)
	}
	tv := syscall.NsecToTimeval(arpReplyWait.Nanoseconds())
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("SO_RCVTIMEO: %w", err)
	}
	frame := arpRequestFrame(mac, guestIP, gatewayIP)
	buf := make([]byte, 2048)
	replies := 0
	for range n {
		if _, err := syscall.Write(fd, frame); err != nil {
			return fmt.Errorf("send on %s: %w", d.name, err)
		}
		deadline := time.Now().Add(arpReplyWait)
		for time.Now().Before(deadline) {
			m, err := syscall.Read(fd, buf)
			if err != nil {
				break // EAGAIN: timed out
			}
			if isARPReplyFrom(buf[:m], gatewayIP) {
				replies++
				break
			}
		}
	}
	if replies < n {
		g.say("%s: %d of %d ARP requests answered", d.name, replies, n)
	}
	return nil
}

// cpuOfflineOnline takes every CPU but the first offline in turn, with
// traffic on the CPUs left, then online again, with traffic on it.
func (g *guest) cpuOfflineOnline() error {
	for _, c := range g.cpus[1:] {
		if err := setCPUOnline(c, false); err != nil {
			return err
		}
		g.say("CPU %d offline", c)
		if err := g.shortBurst(without(g.cpus, c), g.devices...); err != nil {
			return err
		}
		if err := setCPUOnline(c, true); err != nil {
			return err
		}
		g.say("CPU %d online", c)
		if err := g.shortBurst([]int{c}, g.devices...); err != nil {
			return err
		}
	}
	return nil
}

func setCPUOnline(cpu int, online bool) error {
	v := "0"
	if online {
		v = "1"
	}
	name := fmt.Sprintf("/sys/devices/system/cpu/cpu%d/online", cpu)
	if err := os.WriteFile(name, []byte(v), 0); err != nil {
		return fmt.Errorf("writing %s to %s: %w", v, name, err)
	}
	return nil
}

func without(cpus []int, c int) []int {
	var r []int
	for _, x := range cpus {
		if x != c {
			r = append(r, x)
		}
	}
	return r
}

// rebind unbinds d from its PCI driver and binds it again, then runs
// traffic on it.
func (g *guest) rebind(d *device) error {
	drv := pciDriver(d.pci)
	if drv == "" {
		return fmt.Errorf("PCI %s has no driver", d.pci)
	}
	dir := filepath.Join("/sys/bus/pci/drivers", drv)
	if err := os.WriteFile(filepath.Join(dir, "unbind"), []byte(d.pci), 0); err != nil {
		return fmt.Errorf("unbind %s from %s: %w", d.pci, drv, err)
	}
	if err := g.waitUntil(d.name+" goes", func() bool { return !exists(filepath.Join(d.class, d.name)) }); err != nil {
		return err
	}
	g.say("%s: PCI %s unbound from %s", d.id, d.pci, drv)
	if err := os.WriteFile(filepath.Join(dir, "bind"), []byte(d.pci), 0); err != nil {
		return fmt.Errorf("bind %s to %s: %w", d.pci, drv, err)
	}
	if err := g.waitFound(d); err != nil {
		return err
	}
	return g.shortBurst(g.cpus, d)
}

// hotplug has the host remove d (device_del) and add it again
// (device_add), then runs traffic on it.
func (g *guest) hotplug(d *device) error {
	pciDir := filepath.Join("/sys/bus/pci/devices", d.pci)
	writeMarker(g.out, "unplug %s", d.id)
	if err := g.waitUntil("PCI "+d.pci+" ("+d.id+") to be unplugged", func() bool { return !exists(pciDir) }); err != nil {
		return err
	}
	g.say("%s: PCI %s unplugged", d.id, d.pci)
	writeMarker(g.out, "plug %s", d.id)
	if err := g.waitFound(d); err != nil {
		return err
	}
	return g.shortBurst(g.cpus, d)
}
