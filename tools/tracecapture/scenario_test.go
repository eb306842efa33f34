package main

import (
	"bytes"
	"net"
	"slices"
	"strings"
	"testing"
)

func TestParseSteps(t *testing.T) {
	got, err := parseSteps("hotplug, traffic,,")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[stepHotplug] || !got[stepTraffic] {
		t.Errorf("got %v, want hotplug and traffic", got)
	}
	all, err := parseSteps(strings.Join(allSteps, ","))
	if err != nil || len(all) != 4 || !all[stepCPU] || !all[stepRebind] {
		t.Errorf("all steps: got %v, %v", all, err)
	}
	if _, err := parseSteps("traffic,reboot"); err == nil || !strings.Contains(err.Error(), `"reboot"`) {
		t.Errorf("unknown step: err = %v", err)
	}
}

func TestPCIAddressOf(t *testing.T) {
	for path, want := range map[string]string{
		"/sys/devices/platform/4010000000.pcie/pci0000:00/0000:00:01.0/0000:01:00.0/virtio0/net/eth0":      "0000:01:00.0",
		"/sys/devices/platform/4010000000.pcie/pci0000:00/0000:00:01.2/0000:03:00.0/nvme/nvme0/nvme0n1":    "0000:03:00.0",
		"/sys/devices/platform/4010000000.pcie/pci0000:00/0000:00:01.1/0000:02:00.0/virtio1/block/vda/../": "0000:02:00.0",
		"/sys/devices/virtual/net/lo": "",
	} {
		got, ok := pciAddressOf(path)
		if got != want || ok != (want != "") {
			t.Errorf("pciAddressOf(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string][]int{
		"0-3\n":   {0, 1, 2, 3},
		"0,2-3,7": {0, 2, 3, 7},
		"0":       {0},
	} {
		got, err := parseCPUList(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parseCPUList(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"3-1", "a", "0-x"} {
		if got, err := parseCPUList(bad); err == nil {
			t.Errorf("parseCPUList(%q) = %v, want an error", bad, got)
		}
	}
}

func TestARPFrames(t *testing.T) {
	mac := net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x56}
	req := arpRequestFrame(mac, guestIP, gatewayIP)
	want := "ffffffffffff525400123456" + "0806" + "0001080006040001" + "525400123456" + "0a00020f" + "000000000000" + "0a000202"
	if got := net.HardwareAddr(req).String(); strings.ReplaceAll(got, ":", "") != want {
		t.Errorf("request frame\n got %s\nwant %s", strings.ReplaceAll(got, ":", ""), want)
	}
	if isARPReplyFrom(req, gatewayIP) {
		t.Error("a request taken for a reply")
	}
	// The gateway's answer: slirp's MAC, opcode 2, sender 10.0.2.2.
	reply := arpRequestFrame(net.HardwareAddr{0x52, 0x55, 10, 0, 2, 2}, gatewayIP, guestIP)
	reply[14+7] = arpReply
	if !isARPReplyFrom(reply, gatewayIP) {
		t.Error("the gateway's reply not recognised")
	}
	if isARPReplyFrom(reply, guestIP) {
		t.Error("a reply from the gateway taken for one from the guest")
	}
	if isARPReplyFrom(reply[:20], gatewayIP) {
		t.Error("a short frame taken for a reply")
	}
}

func TestWriteMarker(t *testing.T) {
	var b bytes.Buffer
	writeMarker(&b, "unplug %s", idNVMe)
	if got, want := b.String(), "\n@@tracecapture unplug nvme0@@\n"; got != want {
		t.Errorf("marker %q, want %q", got, want)
	}
	if ids := []string{idNet, idBlk, idNVMe}; strings.Join(ids, " ") != "net0 blk0 nvme0" {
		t.Errorf("device ids %q: scripts/capture-its-trace names the devices net0, blk0 and nvme0", ids)
	}
}
