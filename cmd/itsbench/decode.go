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
stdin; -file reads a binary dump of a command queue (or of guest memory
holding one: -base is the address of the file's first byte, -at the
queue's). One line per command with its queue offset.

Tables (-table): each VALUE is one 8-byte entry as a number, or
INDEX=NUMBER ("0x10=0x800000000800E004"); -file reads a binary table dump
(or guest memory, with -base and -at). Only non-zero entries are shown.

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

func runDecode(e *env, args []string) error {
	fs := newFlagSet(e, "decode", decodeUsage)
	table := fs.String("table", "", "decode a table instead of commands: dte, itt, cte or l1 (KVM ITS table ABI rev 0)")
	file := fs.String("file", "", "binary dump to decode (- for stdin)")
	baseS := fs.String("base", "0", "guest physical address of the dump's first byte")
	atS := fs.String("at", "", "guest physical address of the queue or table in the dump (default: -base)")
	sizeS := fs.String("size", "0", "bytes to decode from -at (0: to the end of the dump)")
	creadrS := fs.String("creadr", "", "GITS_CREADR offset to mark in a queue listing")
	cwriterS := fs.String("cwriter", "", "GITS_CWRITER offset to mark in a queue listing")
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	base, err := parseAddr("base", *baseS)
	if err != nil {
		return err
	}
	at := base
	if *atS != "" {
		if at, err = parseAddr("at", *atS); err != nil {
			return err
		}
	}
	size, err := parseAddr("size", *sizeS)
	if err != nil {
		return err
	}
	var marks inspect.QueueMarks
	if *creadrS != "" || *cwriterS != "" {
		if *creadrS == "" || *cwriterS == "" {
			return usagef("-creadr and -cwriter go together")
		}
		if marks.CREADR, err = parseAddr("creadr", *creadrS); err != nil {
			return err
		}
		if marks.CWRITER, err = parseAddr("cwriter", *cwriterS); err != nil {
			return err
		}
		marks.CREADR &= model.GITS_CQ_OffsetMask
		marks.CWRITER &= model.GITS_CQ_OffsetMask
		marks.Set = true
	}
	var kind inspect.TableKind
	isTable := *table != ""
	if isTable {
		if kind, err = inspect.ParseTableKind(*table); err != nil {
			return usagef("-table: %v", err)
		}
	}
	if *file != "" && fs.NArg() > 0 {
		return usagef("give either -file or values, not both (values: %q)", fs.Arg(0))
	}
	if *file == "" && (*atS != "" || *baseS != "0" || *sizeS != "0") {
		return usagef("-base, -at and -size apply to -file dumps only")
	}

	var inputErrs []error
	failures := 0
	switch {
	case *file != "":
		data, err := readDump(e, *file)
		if err != nil {
			return err
		}
		if len(data) == 0 {
			return fmt.Errorf("%s is empty: nothing to decode", dumpName(*file))
		}
		win, err := inspect.Window(data, model.GPA(base), model.GPA(at), size)
		if err != nil {
			return usagef("-at/-size: %v", err)
		}
		if isTable {
			lines := inspect.DecodeTable(kind, win)
			failures = countEntryFailures(lines)
			if err := inspect.WriteEntries(e.stdout, kind, (*model.GPA)(&at), lines); err != nil {
				return err
			}
		} else {
			lines := inspect.DecodeQueue(win, 0)
			failures = countCommandFailures(lines)
			if err := inspect.WriteCommands(e.stdout, lines, marks); err != nil {
				return err
			}
		}
	case isTable:
		text := strings.Join(fs.Args(), "\n")
		if fs.NArg() == 0 {
			b, err := io.ReadAll(e.input())
			if err != nil {
				return fmt.Errorf("reading stdin: %w", err)
			}
			text = string(b)
			if strings.TrimSpace(text) == "" {
				return errEmptyStdin
			}
		}
		entries, errs := inspect.ParseEntries(text)
		inputErrs = errs
		lines := inspect.DecodeEntries(kind, entries)
		failures = countEntryFailures(lines)
		if err := inspect.WriteEntries(e.stdout, kind, nil, lines); err != nil {
			return err
		}
	default:
		var lines []inspect.CommandLine
		if fs.NArg() == 0 {
			b, err := io.ReadAll(e.input())
			if err != nil {
				return fmt.Errorf("reading stdin: %w", err)
			}
			if strings.TrimSpace(string(b)) == "" {
				return errEmptyStdin
			}
			lines, inputErrs = inspect.DecodeHexCommands(string(b))
		} else {
			// One packet per argument, so a short or long one does
			// not shift the packets after it.
			for i, arg := range fs.Args() {
				off := uint64(i * model.CommandSize)
				data, errs := inspect.ParseHex(arg)
				for _, err := range errs {
					inputErrs = append(inputErrs, fmt.Errorf("argument %d: %w", i+1, err))
				}
				if len(data) != model.CommandSize {
					lines = append(lines, inspect.CommandLine{Offset: off, Problems: []inspect.Problem{{
						Offset: off, Field: "packet", Fatal: true,
						Msg: fmt.Sprintf("argument %d holds %d bytes; a command packet is 32 (64 hex digits)", i+1, len(data)),
					}}})
					continue
				}
				var p model.Packet
				copy(p[:], data)
				lines = append(lines, inspect.DecodeCommand(p, off))
			}
		}
		failures = countCommandFailures(lines)
		if err := inspect.WriteCommands(e.stdout, lines, marks); err != nil {
			return err
		}
	}
	for _, err := range inputErrs {
		fmt.Fprintf(e.stderr, "itsbench decode: %v\n", err)
	}
	if n := failures + len(inputErrs); n > 0 {
		return fmt.Errorf("%d problem(s) in the input (see above); everything else was decoded", n)
	}
	return nil
}

var errEmptyStdin = errors.New("standard input is empty: nothing to decode (give packets or entries as arguments, as hex on standard input, or a binary dump with -file)")

func dumpName(name string) string {
	if name == "-" {
		return "standard input"
	}
	return name
}

func readDump(e *env, name string) ([]byte, error) {
	if name == "-" {
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

func countCommandFailures(lines []inspect.CommandLine) int {
	n := 0
	for _, l := range lines {
		for _, p := range l.Problems {
			if p.Fatal {
				n++
				break
			}
		}
	}
	return n
}

func countEntryFailures(lines []inspect.EntryLine) int {
	n := 0
	for _, l := range lines {
		for _, p := range l.Problems {
			if p.Fatal {
				n++
				break
			}
		}
	}
	return n
}
