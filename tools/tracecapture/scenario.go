package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// The steps of the guest's scenario, in the order they run (doc.go).
const (
	stepTraffic = "traffic"
	stepCPU     = "cpu"
	stepRebind  = "rebind"
	stepHotplug = "hotplug"
)

var allSteps = []string{stepTraffic, stepCPU, stepRebind, stepHotplug}

// parseSteps parses -steps: a comma-separated subset of allSteps. The steps
// run in allSteps' order whatever the order of list.
func parseSteps(list string) (map[string]bool, error) {
	steps := map[string]bool{}
	for s := range strings.SplitSeq(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		known := false
		for _, k := range allSteps {
			known = known || s == k
		}
		if !known {
			return nil, fmt.Errorf("unknown step %q (known: %s)", s, strings.Join(allSteps, ","))
		}
		steps[s] = true
	}
	return steps, nil
}

// The QEMU device ids of the devices the script gives the guest (doc.go).
const (
	idNet  = "net0"
	idBlk  = "blk0"
	idNVMe = "nvme0"
)

// Marker lines (doc.go, "Console protocol").
const (
	markerPrefix = "@@tracecapture "
	markerSuffix = "@@"
)

// writeMarker writes one marker line in one write.
func writeMarker(w io.Writer, format string, args ...any) {
	io.WriteString(w, "\n"+markerPrefix+fmt.Sprintf(format, args...)+markerSuffix+"\n")
}

// pciAddress matches a PCI function's name in sysfs: domain:bus:device.function.
var pciAddress = regexp.MustCompile(`^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$`)

// pciAddressOf returns the PCI function a sysfs device path lies under (the
// last path element that names one): for
// /sys/devices/platform/4010000000.pcie/pci0000:00/0000:00:01.0/0000:01:00.0/virtio0/net/eth0
// it is 0000:01:00.0.
func pciAddressOf(devicePath string) (string, bool) {
	elems := strings.Split(path.Clean(devicePath), "/")
	for i := len(elems) - 1; i >= 0; i-- {
		if pciAddress.MatchString(elems[i]) {
			return elems[i], true
		}
	}
	return "", false
}

// parseCPUList parses the kernel's CPU list format (/sys/devices/system/cpu/online:
// "0-3,6").
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for r := range strings.SplitSeq(strings.TrimSpace(s), ",") {
		if r == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(r, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("CPU list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("CPU list %q: %w", s, err)
			}
		}
		if b < a {
			return nil, fmt.Errorf("CPU list %q: range %d-%d runs backwards", s, a, b)
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// The addresses of QEMU's user-mode network (slirp): the guest's usual
// address, and the gateway, which slirp answers ARP requests for.
var (
	guestIP   = net.IPv4(10, 0, 2, 15).To4()
	gatewayIP = net.IPv4(10, 0, 2, 2).To4()
)

const (
	etherTypeARP = 0x0806
	arpFrameLen  = 14 + 28 // Ethernet header and an IPv4-over-Ethernet ARP packet (RFC 826)
	arpRequest   = 1
	arpReply     = 2
)

// arpRequestFrame returns a broadcast Ethernet frame holding an ARP request
// from (mac, senderIP) for targetIP.
func arpRequestFrame(mac net.HardwareAddr, senderIP, targetIP net.IP) []byte {
	f := make([]byte, arpFrameLen)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:], etherTypeARP)
	a := f[14:]
	binary.BigEndian.PutUint16(a[0:], 1)      // hardware type: Ethernet
	binary.BigEndian.PutUint16(a[2:], 0x0800) // protocol type: IPv4
	a[4], a[5] = 6, 4                         // address lengths
	binary.BigEndian.PutUint16(a[6:], arpRequest)
	copy(a[8:14], mac)
	copy(a[14:18], senderIP.To4())
	// a[18:24], the target's hardware address, stays zero
	copy(a[24:28], targetIP.To4())
	return f
}

// isARPReplyFrom reports whether frame is an ARP reply that senderIP sent.
func isARPReplyFrom(frame []byte, senderIP net.IP) bool {
	if len(frame) < arpFrameLen || binary.BigEndian.Uint16(frame[12:]) != etherTypeARP {
		return false
	}
	a := frame[14:]
	return binary.BigEndian.Uint16(a[6:]) == arpReply && net.IP(a[14:18]).Equal(senderIP)
}
