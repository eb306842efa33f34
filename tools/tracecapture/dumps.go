package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// runDumps is the dumps subcommand: it cuts the ITS command queue and the
// LPI property table out of a dump of the guest's RAM, where the trace
// says the guest put them, and writes them beside the trace.
func runDumps(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dumps", flag.ContinueOnError)
	fs.SetOutput(stderr)
	trace := fs.String("trace", "", "QEMU's trace log of the run (plain or gzipped)")
	ram := fs.String("ram", "", "the dump of the guest's RAM, taken when the guest powered off (tracecapture pmemsave)")
	base := fs.String("base", fmt.Sprintf("%#x", virtRAMBase), "the guest physical address the RAM dump starts at")
	prefix := fs.String("o", "", "the prefix of the files to write: PREFIX.mem, PREFIX"+suffixQueue+", PREFIX"+suffixPropTable)
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if *trace == "" || *ram == "" || *prefix == "" || fs.NArg() > 0 {
		return usageError("need -trace, -ram and -o, and no other argument")
	}
	ramBase, err := strconv.ParseUint(*base, 0, 64)
	if err != nil {
		return usageError("-base: " + err.Error())
	}
	bases, err := scanTraceFile(*trace)
	if err != nil {
		return err
	}
	ranges, notes := bases.dumpRanges()
	for _, n := range notes {
		fmt.Fprintf(stderr, "tracecapture dumps: %s\n", n)
	}
	if len(ranges) == 0 {
		return fmt.Errorf("%s: nothing to dump", *trace)
	}
	f, err := os.Open(*ram)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	sidecar, err := writeDumps(f, ramBase, uint64(st.Size()), ranges, *prefix)
	for _, r := range ranges {
		if r.written > 0 {
			fmt.Fprintf(stdout, "%s: %s, %d bytes from %#x (%d gzipped)\n", r.spec, r.what, r.size, r.gpa, r.written)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: the dumps, one FILE@GPA a line\n", sidecar)
	return nil
}

// The dump files' names: the trace's, without .log and .gz, and these.
const (
	suffixSidecar   = ".mem"
	suffixQueue     = ".queue.bin.gz"
	suffixPropTable = ".proptable.bin.gz"
)

// Registers whose last write places what is dumped (IHI 0069, 12.19.2 and
// 12.11.26), at their offsets as QEMU's gicv3_its_write and
// gicv3_redist_write print them (from the ITS control frame, from the
// redistributor's RD_base frame).
const (
	offGITS_CBASER    = 0x80
	offGICR_PROPBASER = 0x70
	// Both hold a physical address in bits [51:12].
	physAddrMask = (1<<52 - 1) &^ (1<<12 - 1)
)

// regWrite is a 64-bit register as the trace's writes leave it, and the
// line of its last write (0: never written).
type regWrite struct {
	value uint64
	line  int
}

// apply applies a write of size bytes at byte off of the register: the
// whole of it, or a 32-bit half.
func (r *regWrite) apply(off, data uint64, size int, line int) bool {
	switch {
	case off == 0 && size == 8:
		r.value = data
	case off == 0 && size == 4:
		r.value = r.value&^0xffffffff | data&0xffffffff
	case off == 4 && size == 4:
		r.value = r.value&0xffffffff | data<<32
	default:
		return false
	}
	r.line = line
	return true
}

// tableBases is what a trace says of where the guest put its command queue
// and LPI property table: the last GITS_CBASER write, and the last
// GICR_PROPBASER write of any redistributor.
type tableBases struct {
	cbaser    regWrite
	propbaser map[uint64]*regWrite // by redistributor, as QEMU names it
}

// writeEvent matches QEMU 7.2's gicv3_its_write and gicv3_redist_write lines
// (hw/intc/trace-events), after the event's name.
var writeEvent = regexp.MustCompile(`^GICv3 (?:ITS|redistributor (0x[0-9a-f]+)) write: offset (0x[0-9a-f]+) data (0x[0-9a-f]+) size ([48])\b`)

// scanTrace reads QEMU's log trace backend's lines, with or without
// -msg timestamp=on's "TID@SECONDS:" in front.
func scanTrace(r io.Reader) (*tableBases, error) {
	tb := &tableBases{propbaser: map[uint64]*regWrite{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		name, msg, _ := strings.Cut(sc.Text(), " ")
		if i := strings.IndexByte(name, ':'); i >= 0 && strings.Contains(name[:i], "@") {
			name = name[i+1:]
		}
		var its bool
		switch name {
		case "gicv3_its_write":
			its = true
		case "gicv3_redist_write":
		default:
			continue
		}
		m := writeEvent.FindStringSubmatch(msg)
		if m == nil || its != (m[1] == "") {
			return nil, fmt.Errorf("line %d: %s: not the format of QEMU 7.2's %s", line, sc.Text(), name)
		}
		off, _ := strconv.ParseUint(m[2], 0, 64)
		data, _ := strconv.ParseUint(m[3], 0, 64)
		size := 8
		if m[4] == "4" {
			size = 4
		}
		if its {
			if off&^7 == offGITS_CBASER {
				tb.cbaser.apply(off&7, data, size, line)
			}
			continue
		}
		if off&^7 == offGICR_PROPBASER {
			rd, _ := strconv.ParseUint(m[1], 0, 64)
			if tb.propbaser[rd] == nil {
				tb.propbaser[rd] = &regWrite{}
			}
			tb.propbaser[rd].apply(off&7, data, size, line)
		}
	}
	return tb, sc.Err()
}

// scanTraceFile is scanTrace on a file, gzipped or not.
func scanTraceFile(name string) (*tableBases, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		r = zr
	}
	tb, err := scanTrace(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return tb, nil
}

// dumpRange is one range of guest memory to dump.
type dumpRange struct {
	what      string // what it holds, and where the trace says so
	suffix    string // of its file's name
	gpa, size uint64
	// spec (FILE@GPA, FILE relative to the sidecar) and written (its
	// gzipped size) are set once it is written.
	spec    string
	written int64
}

// dumpRanges returns the ranges to dump: the command queue GITS_CBASER
// places (Size+1 4 KiB pages), the property table of the last
// GICR_PROPBASER written (2^IDbits - 8192 bytes, one byte for each LPI
// from INTID 8192 on); notes say why one is missing.
func (tb *tableBases) dumpRanges() ([]*dumpRange, []string) {
	var ranges []*dumpRange
	var notes []string
	switch cb := tb.cbaser; {
	case cb.line == 0:
		notes = append(notes, "no GITS_CBASER write in the trace: no command queue to dump")
	case cb.value>>63 == 0:
		notes = append(notes, fmt.Sprintf("GITS_CBASER's last write (line %d, %#x) is not Valid: no command queue to dump", cb.line, cb.value))
	default:
		ranges = append(ranges, &dumpRange{
			what:   fmt.Sprintf("the ITS command queue (GITS_CBASER %#x, trace line %d)", cb.value, cb.line),
			suffix: suffixQueue, gpa: cb.value & physAddrMask, size: (cb.value&0xff + 1) << 12,
		})
	}
	var last *regWrite
	var lastRD uint64
	for rd, w := range tb.propbaser {
		if last == nil || w.line > last.line {
			last, lastRD = w, rd
		}
	}
	if last == nil {
		return ranges, append(notes, "no GICR_PROPBASER write in the trace: no LPI property table to dump")
	}
	idBits := last.value&0x1f + 1
	if idBits < 14 {
		return ranges, append(notes, fmt.Sprintf("GICR_PROPBASER's last write (line %d, %#x) has %d ID bits, too few for LPIs: no LPI property table to dump", last.line, last.value, idBits))
	}
	ranges = append(ranges, &dumpRange{
		what: fmt.Sprintf("the LPI property table of INTIDs 8192 to 2^%d-1 (GICR_PROPBASER %#x, redistributor %#x, trace line %d)",
			idBits, last.value, lastRD, last.line),
		suffix: suffixPropTable, gpa: last.value & physAddrMask, size: 1<<idBits - 8192,
	})
	return ranges, notes
}

// writeDumps checks that ram (ramSize bytes of guest memory from ramBase)
// holds every range, then cuts each out of it, writes it gzipped to
// prefix+suffix and the sidecar prefix.mem listing them, and returns the
// sidecar's name.
func writeDumps(ram io.ReaderAt, ramBase, ramSize uint64, ranges []*dumpRange, prefix string) (string, error) {
	var sidecar strings.Builder
	fmt.Fprintf(&sidecar, "# Memory dumps of the guest whose trace is beside this file (same name, .log or .log.gz),\n")
	fmt.Fprintf(&sidecar, "# taken when it powered off (tools/tracecapture dumps): one FILE@GPA a line, FILE\n")
	fmt.Fprintf(&sidecar, "# relative to this file's directory, gzipped.\n")
	for _, r := range ranges {
		if r.gpa < ramBase || r.gpa-ramBase > ramSize || r.size > ramSize-(r.gpa-ramBase) {
			return "", fmt.Errorf("%s: %d bytes from %#x are not all in the RAM dump (%#x bytes from %#x)", r.what, r.size, r.gpa, ramSize, ramBase)
		}
	}
	for _, r := range ranges {
		data := make([]byte, r.size)
		if _, err := ram.ReadAt(data, int64(r.gpa-ramBase)); err != nil {
			return "", fmt.Errorf("reading %s from the RAM dump: %w", r.what, err)
		}
		file := prefix + r.suffix
		n, err := writeGzip(file, data)
		if err != nil {
			return "", err
		}
		r.spec, r.written = fmt.Sprintf("%s@%#x", filepath.Base(file), r.gpa), n
		fmt.Fprintf(&sidecar, "# %s, %d bytes\n%s\n", r.what, r.size, r.spec)
	}
	name := prefix + suffixSidecar
	return name, os.WriteFile(name, []byte(sidecar.String()), 0o644)
}

// writeGzip writes data to file gzipped, the same bytes for the same data
// (no name, no time), and returns the file's size.
func writeGzip(file string, data []byte) (int64, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return 0, err
	}
	if _, err := zw.Write(data); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return int64(buf.Len()), os.WriteFile(file, buf.Bytes(), 0o644)
}
