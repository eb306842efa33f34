// Command tracecapture is the guest half of scripts/capture-its-trace, which
// records QEMU trace logs (-trace 'gicv3_its*' -trace 'gicv3_redist*') of
// Linux's own ITS driver (drivers/irqchip/irq-gic-v3-its.c) at work, for
// testdata/qemutrace and `itsbench replay`. Run the script, not this
// program: it builds tracecapture twice, for the host and for the guest.
//
// The one binary has six subcommands; the first five run on the host:
//
//	tracecapture modules -dir DIR NAME...
//	    resolve the modules NAME... and what they depend on. DIR holds
//	    members (the kernel package's module files, one a line, relative
//	    to /lib/modules/<release>: kernel/drivers/net/virtio_net.ko.xz),
//	    modules.builtin, and the modules extracted so far, decompressed, at
//	    the same relative paths (kernel/drivers/net/virtio_net.ko). A
//	    Debian package has no modules.dep (depmod writes it on
//	    installation), so the dependencies are each module's own, the
//	    depends= of its .modinfo section (modinfo -F depends): while some
//	    are unknown, it prints "need FILE" for each module file to extract
//	    next; then "load FILE" for each decompressed module, in load
//	    order. A module built into the kernel is left out, with a note on
//	    stderr; a NAME the kernel has neither way is an error.
//	tracecapture initramfs -o FILE -init BINARY [MODULE.ko]...
//	    write a newc cpio initramfs (the format of the kernel's
//	    Documentation/driver-api/early-userspace/buffer-format.rst) holding
//	    /init (BINARY), /dev/console and the modules, in the order given, as
//	    /modules/NN-<name>.ko.
//	tracecapture qmp -socket PATH HMP-COMMAND
//	    run one human-monitor command (device_del net0, device_add ...) on a
//	    QEMU's QMP socket and print its output; exit 1 when the command
//	    printed an error.
//	tracecapture pmemsave -socket PATH -o FILE [-base GPA] -size BYTES [-wait D]
//	    wait (up to -wait, 10m by default) for the guest to power off,
//	    asking QEMU's status (query-status) on its QMP socket every second,
//	    each time on a connection of its own; once it is "shutdown" (QEMU
//	    run with -no-shutdown stops instead of exiting, the guest's memory
//	    as the guest left it), have QEMU save SIZE bytes of guest physical
//	    memory from GPA (by default 0x40000000, where QEMU virt's RAM
//	    starts) to FILE with pmemsave, and tell QEMU to quit.
//	tracecapture dumps -trace FILE -ram FILE [-base GPA] -o PREFIX
//	    cut what the trace cannot show out of the RAM pmemsave saved (from
//	    GPA on): the ITS command queue the trace's last GITS_CBASER write
//	    places (offset 0x80 of the ITS; base in bits [51:12], (Size+1)
//	    4 KiB pages) and the LPI property table of the last GICR_PROPBASER
//	    write of any redistributor (offset 0x70; base in bits [51:12],
//	    2^IDbits - 8192 bytes, one for each LPI from INTID 8192 on). A
//	    register written in 32-bit halves counts too. It writes, gzipped
//	    with no name or time (the same bytes for the same memory),
//	    PREFIX.queue.bin.gz and PREFIX.proptable.bin.gz, and the sidecar
//	    PREFIX.mem: one FILE@GPA a line (FILE relative to the sidecar's
//	    directory, GPA where the dump starts: replay.LoadMemory's and
//	    pmemsave's address), each after a # line saying what it holds and
//	    which trace line placed it. A register never written, a queue not
//	    Valid, or fewer than 14 ID bits leave that dump out, with a note
//	    on stderr; neither, or a range the RAM does not hold, is an error.
//	tracecapture guest [-steps LIST] [-reads N] [-frames N] [-wait D]
//	    the scenario, as the guest's /init (linux/arm64 only). As process 1 it
//	    always runs this, with the arguments the kernel command line gives
//	    after "--".
//
// # The guest's scenario
//
// The guest mounts /proc, /sys and /dev, loads /modules/*.ko in name order
// (finit_module; a module already loaded is fine), waits for one virtio-net
// interface, one virtio-blk disk and one NVMe namespace, then runs the steps
// of -steps in this order (default all):
//
//	traffic  on every online CPU in turn (the thread pinned there), O_DIRECT
//	         reads of -reads blocks from each disk and -frames ARP requests
//	         for the user-mode network's gateway (10.0.2.2) on an AF_PACKET
//	         socket, after setting the interface up (SIOCSIFFLAGS); QEMU's
//	         slirp answers, so there are transmit and receive interrupts
//	cpu      each CPU but 0 in turn offline, a burst of traffic on the
//	         CPUs left, online again, a burst on it (Linux moves interrupts
//	         away, MOVI and SYNC, and maps the collection again, MAPC)
//	rebind   each device unbound from its PCI driver and bound again
//	         through /sys/bus/pci/drivers/<driver>/{unbind,bind} (DISCARD,
//	         MAPD V=0, then MAPD, MAPTI again), then a burst on it
//	hotplug  each device removed and added again by the host (device_del,
//	         device_add on QEMU's monitor; pciehp in the guest), then a burst
//
// It then powers the machine off. The script, which runs QEMU with
// -no-shutdown, then saves the guest's RAM (pmemsave), quits QEMU and cuts
// the command queue and the LPI property table out of it (dumps): the
// memory as the last command and MSI of the trace left it.
//
// # Console protocol
//
// The guest asks the host for a hot-unplug or a hot-add, and reports its
// end, with marker lines on the console (init's standard output):
//
//	@@tracecapture unplug ID@@    remove the device whose QEMU id is ID
//	@@tracecapture plug ID@@      add it again, with the same options
//	@@tracecapture done@@         every step ran
//	@@tracecapture failed: WHY@@  a step failed; the machine powers off
//
// IDs are the QEMU device ids the script gives the devices: net0 (virtio-net),
// blk0 (virtio-blk) and nvme0 (NVMe). A marker is written in one write and
// closed by "@@", so a host reading the console can tell a whole marker from
// one the kernel's own console messages cut. After asking, the guest waits
// (up to -wait) for the device's PCI function to leave /sys/bus/pci/devices,
// or for its interface or disk to appear again.
//
// # What it must not touch
//
// tracecapture is a separate program: it imports nothing of the module and
// uses the standard library only (syscall for the guest's kernel
// interfaces), so that it cross-compiles anywhere with CGO_ENABLED=0. Its
// raw system calls (finit_module, the interface-flags ioctl,
// sched_setaffinity) are in sys_linux_arm64_unsafe.go, the only file that imports
// unsafe.
package main
