package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The module files of a package, as the members file lists them, and what
// their .modinfo says they depend on.
const testMembers = `kernel/drivers/net/virtio_net.ko.xz
kernel/drivers/net/net_failover.ko.xz
kernel/net/core/failover.ko.xz
kernel/drivers/nvme/host/nvme.ko.xz
kernel/drivers/nvme/host/nvme-core.ko.xz
kernel/drivers/nvme/common/nvme-auth.ko.xz
kernel/drivers/block/virtio_blk.ko
`

var testDepends = map[string][]string{
	"kernel/drivers/net/virtio_net.ko.xz":        {"net_failover"},
	"kernel/drivers/net/net_failover.ko.xz":      {"failover"},
	"kernel/net/core/failover.ko.xz":             nil,
	"kernel/drivers/nvme/host/nvme.ko.xz":        {"nvme-core"},
	"kernel/drivers/nvme/host/nvme-core.ko.xz":   {"nvme-auth"},
	"kernel/drivers/nvme/common/nvme-auth.ko.xz": nil,
	"kernel/drivers/block/virtio_blk.ko":         nil,
}

const testBuiltin = `kernel/drivers/virtio/virtio_pci.ko
kernel/net/packet/af_packet.ko
`

func mustParse(t *testing.T, s string) moduleFiles {
	t.Helper()
	m, err := parsePathList(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// dependsFrom is resolveModules' depends over a table, with the files of
// extracted only (all when nil) on disk.
func dependsFrom(table map[string][]string, extracted []string) func(string) ([]string, error) {
	return func(file string) ([]string, error) {
		deps, ok := table[file]
		if !ok || extracted != nil && !slices.Contains(extracted, file) {
			return nil, fmt.Errorf("open %s: %w", file, fs.ErrNotExist)
		}
		return deps, nil
	}
}

var wantLoad = []string{
	"kernel/net/core/failover.ko.xz",
	"kernel/drivers/net/net_failover.ko.xz",
	"kernel/drivers/net/virtio_net.ko.xz",
	"kernel/drivers/nvme/common/nvme-auth.ko.xz",
	"kernel/drivers/nvme/host/nvme-core.ko.xz",
	"kernel/drivers/nvme/host/nvme.ko.xz",
	"kernel/drivers/block/virtio_blk.ko",
}

func TestResolveModules(t *testing.T) {
	members, builtin := mustParse(t, testMembers), mustParse(t, testBuiltin)
	names := []string{"virtio_pci", "virtio_net", "net_failover", "nvme", "virtio-blk", "af_packet"}
	r, err := resolveModules(members, builtin, dependsFrom(testDepends, nil), names)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.load, wantLoad) || r.need != nil {
		t.Errorf("load:\n got %q\nwant %q\nneed %q, want none", r.load, wantLoad, r.need)
	}
	if want := []string{"virtio_pci", "af_packet"}; !slices.Equal(r.inKernel, want) {
		t.Errorf("built in: got %q, want %q", r.inKernel, want)
	}
}

// TestResolveModulesRounds extracts what each round needs, as
// scripts/capture-its-trace does, until the order is known.
func TestResolveModulesRounds(t *testing.T) {
	members, builtin := mustParse(t, testMembers), mustParse(t, testBuiltin)
	extracted := []string{}
	rounds := 0
	for {
		r, err := resolveModules(members, builtin, dependsFrom(testDepends, extracted), []string{"virtio_net", "nvme", "virtio_blk"})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.need) == 0 {
			if !slices.Equal(r.load, wantLoad) {
				t.Errorf("load:\n got %q\nwant %q", r.load, wantLoad)
			}
			break
		}
		extracted = append(extracted, r.need...)
		if rounds++; rounds > 5 {
			t.Fatalf("still needing %q after %d rounds", r.need, rounds)
		}
	}
	if rounds != 3 { // the named modules; their dependencies; nvme-auth
		t.Errorf("%d rounds of extraction, want 3", rounds)
	}
}

func TestResolveModulesErrors(t *testing.T) {
	for _, tc := range []struct {
		name, members, module string
		depends               map[string][]string
		want                  string
	}{
		{"unknown module", testMembers, "e1000e", testDepends, "module e1000e: neither a module of the package nor built into the kernel"},
		{"unknown dependency", "kernel/a.ko\n", "a", map[string][]string{"kernel/a.ko": {"b"}}, "module b: neither"},
		{"cycle", "kernel/a.ko\nkernel/b.ko\n", "a", map[string][]string{"kernel/a.ko": {"b"}, "kernel/b.ko": {"a"}}, "dependency cycle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := resolveModules(mustParse(t, tc.members), moduleFiles{}, dependsFrom(tc.depends, nil), []string{tc.module})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
			if r.load != nil || r.need != nil {
				t.Errorf("resolution %+v with an error, want none", r)
			}
		})
	}
}

func TestModinfoDepends(t *testing.T) {
	modinfo := []byte("license=GPL\x00depends=nvme-core,nvme-auth\x00retpoline=Y\x00name=nvme\x00\x00")
	if got, want := modinfoDepends(modinfo), []string{"nvme-core", "nvme-auth"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := modinfoDepends([]byte("depends=\x00name=failover\x00")); got != nil {
		t.Errorf("empty depends: got %q", got)
	}
}

func TestModuleNames(t *testing.T) {
	for file, want := range map[string][2]string{
		"kernel/drivers/nvme/host/nvme-core.ko.xz": {"nvme_core", "kernel/drivers/nvme/host/nvme-core.ko"},
		"kernel/drivers/net/virtio_net.ko":         {"virtio_net", "kernel/drivers/net/virtio_net.ko"},
		"kernel/net/packet/af_packet.ko.zst":       {"af_packet", "kernel/net/packet/af_packet.ko"},
		"virtio-blk":                               {"virtio_blk", "virtio-blk"},
	} {
		if got := [2]string{moduleName(file), uncompressedName(file)}; got != want {
			t.Errorf("%q: name and uncompressed %q, want %q", file, got, want)
		}
	}
}

func TestReadModinfoDepends(t *testing.T) {
	if _, err := readModinfoDepends(t.TempDir() + "/absent.ko"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent module: err = %v, want fs.ErrNotExist", err)
	}
	// The test binary is an ELF file, but not a module.
	if exe, err := os.Executable(); err == nil && runtime.GOOS == "linux" {
		if _, err := readModinfoDepends(exe); err == nil || !strings.Contains(err.Error(), "no .modinfo section") {
			t.Errorf("the test binary: err = %v, want no .modinfo section", err)
		}
	}
}
