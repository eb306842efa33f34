package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/gicits/gicits/inspect"
	"github.com/gicits/gicits/model"
)

func init() {
	register(&command{
		name:    "decode",
		summary: "decode ITS command packets, a command queue dump or an ITS table dump",
		run:     runDecode,
	})
}

const decodeUsage = `[-table dte|itt|cte|l1] [-file FILE [-base ADDR] [-at ADDR] [-size N]] [-creadr OFF -cwriter OFF] [VALUE...]

Commands (no -table): each VALUE is one 32-byte packet as 64 hex digits,
bytes in memory order; with no VALUE and no -file, hex text is read from
stdin: plain hex (xxd -p), or an xxd or od -Ax -tx1 dump, whose offset and
ASCII columns are not data and whose offsets are the queue offsets. -file
reads a binary dump of a command queue (or of guest memory holding one:
-base is the address of the file's first byte, -at the queue's). One line
per command with its queue offset. -creadr and -cwriter take the queue
offsets (32-byte aligned) or the registers' values (bit 0, Stalled or
Retry, is ignored); anything else is refused. GICv4 commands (V*, with
their GICv4.1 fields) decode too, although neither backend executes them.

Tables (-table): each VALUE is one 8-byte entry as a number (decimal, or
hexadecimal with 0x), or INDEX=NUMBER ("0x10=0x800000000800E004"); with no
VALUE they are read from stdin, where an xxd or od dump of a table is read
as its bytes (the first is the table's; the address column shows the
dump's offsets). -file reads a binary table dump (or guest memory, with
-base and -at). Only non-zero entries of a dump are shown.

Bad input is reported with the byte and field at fault, and decoding goes
on; the exit status is 1 if anything did not decode.`

func (e *env) input() io.Reader {
	if e.stdin != nil {
		return e.stdin
	}
	return os.Stdin
}

// parseAddr parses a flag's address or size: decimal or 0x hexadecimal,
// underscores allowed.
func parseAddr(flagName, s string) (uint64, error) {
	v, err := strconv.ParseUint(strings.ReplaceAll(s, "_", ""), 0, 64)
	if err != nil {
		return 0, usagef("-%s %q: want a number (decimal or 0x hexadecimal)", flagName, s)
	}
	return v, nil
}

// decodeRequest is what the decode command line asks for.
type decodeRequest struct {
	file           string // a dump to decode ("-" for stdin), or ""
	base, at, size uint64 // where the dump lies, and the window to decode
	table          bool   // decode table entries of kind, not commands
	kind           inspect.TableKind
	marks          inspect.QueueMarks
	values         []string // packets or entries given as arguments
}

func runDecode(e *env, args []string) error {
	r, err := parseDecodeFlags(e, args)
	if err != nil {
		return err
	}
	listing, inputErrs, err := r.decode(e)
	if err != nil {
		return err
	}
	if err := listing.Write(e.stdout); err != nil {
		return err
	}
	for _, err := range inputErrs {
		fmt.Fprintf(e.stderr, "itsbench decode: %v\n", err)
	}
	if n := listing.Failures() + len(inputErrs); n > 0 {
		return fmt.Errorf("%s in the input (see above); everything else was decoded", plural(n, "problem"))
	}
	return nil
}

func parseDecodeFlags(e *env, args []string) (*decodeRequest, error) {
	fs := newFlagSet(e, "decode", decodeUsage)
	table := fs.String("table", "", "decode a table instead of commands: dte, itt, cte or l1 (KVM ITS table ABI rev 0)")
	file := fs.String("file", "", "binary dump to decode (- for stdin)")
	baseS := fs.String("base", "0", "guest physical address of the dump's first byte")
	atS := fs.String("at", "", "guest physical address of the queue or table in the dump (default: -base)")
	sizeS := fs.String("size", "0", "bytes to decode from -at (0: to the end of the dump)")
	creadrS := fs.String("creadr", "", "GITS_CREADR offset to mark in a queue listing")
	cwriterS := fs.String("cwriter", "", "GITS_CWRITER offset to mark in a queue listing")
	if err := parseFlags(fs, args, true); err != nil {
		return nil, err
	}
	r := &decodeRequest{file: *file, values: fs.Args()}
	var err error
	if r.base, err = parseAddr("base", *baseS); err != nil {
		return nil, err
	}
	r.at = r.base
	if *atS != "" {
		if r.at, err = parseAddr("at", *atS); err != nil {
			return nil, err
		}
	}
	if r.size, err = parseAddr("size", *sizeS); err != nil {
		return nil, err
	}
	if r.marks, err = parseQueueMarks(*creadrS, *cwriterS); err != nil {
		return nil, err
	}
	if r.table = *table != ""; r.table {
		if r.kind, err = inspect.ParseTableKind(*table); err != nil {
			return nil, usagef("-table: %v", err)
		}
		if *creadrS != "" {
			return nil, usagef("-creadr and -cwriter mark a command queue, not a -table")
		}
	}
	if *file != "" && fs.NArg() > 0 {
		return nil, usagef("give either -file or values, not both (values: %q)", fs.Arg(0))
	}
	if *file == "" && (*atS != "" || *baseS != "0" || *sizeS != "0") {
		return nil, usagef("-base, -at and -size apply to -file dumps only")
	}
	return r, nil
}

// parseQueueMarks parses -creadr and -cwriter, which go together.
func parseQueueMarks(creadrS, cwriterS string) (inspect.QueueMarks, error) {
	if creadrS == "" && cwriterS == "" {
		return inspect.QueueMarks{}, nil
	}
	if creadrS == "" || cwriterS == "" {
		return inspect.QueueMarks{}, usagef("-creadr and -cwriter go together")
	}
	creadr, err := parseQueueOffset("creadr", creadrS)
	if err != nil {
		return inspect.QueueMarks{}, err
	}
	cwriter, err := parseQueueOffset("cwriter", cwriterS)
	if err != nil {
		return inspect.QueueMarks{}, err
	}
	return inspect.MarkQueue(creadr, cwriter), nil
}

// parseQueueOffset parses -creadr or -cwriter: a queue offset, or the
// register's value, whose bits 19:5 are the offset and bit 0 Stalled
// (GITS_CREADR) or Retry (GITS_CWRITER), IHI 0069 12.19.3, 12.19.4. Any
// other bit set is refused rather than dropped: 0x7 is not a place in the
// queue.
func parseQueueOffset(flagName, s string) (uint64, error) {
	v, err := parseAddr(flagName, s)
	if err != nil {
		return 0, err
	}
	if bad := v &^ (model.GITS_CQ_OffsetMask | 1); bad != 0 {
		return 0, usagef("-%s %#x: not a command queue offset (bits %#x are set): want a multiple of 32 below 1 MiB, or the register's value (offset in bits 19:5, bit 0 ignored)", flagName, v, bad)
	}
	return v, nil
}

// decode decodes what r names: a dump file, or table entries or command
// packets given as arguments or as text on stdin. The errors are those of
// the text that was skipped.
func (r *decodeRequest) decode(e *env) (inspect.Listing, []error, error) {
	switch {
	case r.file != "":
		l, err := r.decodeDump(e)
		return l, nil, err
	case r.table:
		text := strings.Join(r.values, "\n")
		if len(r.values) == 0 {
			var err error
			if text, err = readStdinText(e); err != nil {
				return nil, nil, err
			}
		}
		if inspect.DumpFormat(text) != "" {
			// The table's bytes, as xxd or od dumped them.
			d, errs := inspect.ParseHexDump(text)
			start := model.GPA(d.Start)
			return inspect.TableListing{Kind: r.kind, Base: &start, Lines: inspect.DecodeTable(r.kind, d.Data)}, errs, nil
		}
		lines, errs := inspect.DecodeEntryText(r.kind, text)
		return inspect.TableListing{Kind: r.kind, Lines: lines}, errs, nil
	case len(r.values) > 0:
		lines, errs := inspect.DecodeCommandArgs(r.values)
		return inspect.CommandListing{Lines: lines, Marks: r.marks}, errs, nil
	default:
		text, err := readStdinText(e)
		if err != nil {
			return nil, nil, err
		}
		lines, errs := inspect.DecodeHexCommands(text)
		return inspect.CommandListing{Lines: lines, Marks: r.marks}, errs, nil
	}
}

// decodeDump decodes the window of r's dump file that r names.
func (r *decodeRequest) decodeDump(e *env) (inspect.Listing, error) {
	data, err := readDump(e, r.file)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%s is empty: nothing to decode", dumpName(r.file))
	}
	if _, err := model.GPA(r.base).Add(uint64(len(data))); err != nil {
		return nil, usagef("-base %#x: a %d-byte dump there would run past the top of the 64-bit address space", r.base, len(data))
	}
	win, err := inspect.Window(data, model.GPA(r.base), model.GPA(r.at), r.size)
	if err != nil {
		return nil, usagef("-at/-size: %v", err)
	}
	if r.table {
		at := model.GPA(r.at)
		return inspect.TableListing{Kind: r.kind, Base: &at, Lines: inspect.DecodeTable(r.kind, win)}, nil
	}
	return inspect.CommandListing{Lines: inspect.DecodeQueue(win, 0), Marks: r.marks}, nil
}

// readStdinText reads the text given on stdin, which must not be blank.
func readStdinText(e *env) (string, error) {
	e.sayReadingStdin()
	b, err := io.ReadAll(e.input())
	if err != nil {
		return "", fmt.Errorf("reading stdin: %w", err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return "", errEmptyStdin
	}
	return string(b), nil
}

var errEmptyStdin = errors.New("standard input is empty: nothing to decode (give packets or entries as arguments, as hex on standard input, or a binary dump with -file)")

func dumpName(name string) string {
	if name == "-" {
		return "standard input"
	}
	return name
}

// sayReadingStdin tells a person at a terminal that decode waits for
// standard input, which would otherwise look like a hang.
func (e *env) sayReadingStdin() {
	if e.stdinIsTerminal {
		fmt.Fprintln(e.stderr, "itsbench decode: reading standard input (end it with Ctrl-D; itsbench decode -h shows the other inputs)")
	}
}

func readDump(e *env, name string) ([]byte, error) {
	if name == "-" {
		e.sayReadingStdin()
		b, err := io.ReadAll(e.input())
		if err != nil {
			return nil, fmt.Errorf("reading stdin: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, usagef("-file: %v", err)
	}
	return b, nil
}
