package model

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Sentinel errors. Errors returned by gicits wrap one of these where one
// applies, so callers test them with [errors.Is].
var (
	// ErrNotSupported: the backend, host or platform cannot do this (for
	// example the kvm backend on a host without /dev/kvm, or a GICv4
	// command).
	ErrNotSupported = errors.New("not supported")

	// ErrBusy: the operation is refused in the current state, as KVM refuses
	// it with EBUSY (an MSI while the ITS or the target redistributor's LPIs
	// are disabled, an IRQFD bound twice).
	ErrBusy = errors.New("busy")

	// ErrInvalidArgument: an argument is malformed or out of range.
	ErrInvalidArgument = errors.New("invalid argument")

	// ErrOutOfRange: a guest physical access falls outside guest memory.
	ErrOutOfRange = errors.New("outside guest memory")

	// ErrClosed: the backend or trigger was closed.
	ErrClosed = errors.New("closed")

	// ErrUnknownBackend: no backend is registered under the name.
	ErrUnknownBackend = errors.New("unknown backend")
)

// ErrorCode is an ITS command error code, as an implementation reports it
// in an SError or an error record (IHI 0069, 6.3; GITS_TYPER.SEIS) and, in
// gicits, in a [CommandError].
//
//	 23      16 15       8 7        0
//	+----------+----------+----------+
//	|   0x01   | command  |  reason  |
//	+----------+----------+----------+
//
// The command byte is the command's opcode (MOVI 0x01, INT 0x03, MAPD
// 0x08, MAPC 0x09, MAPTI 0x0A, MAPI 0x0B, INV 0x0C, INVALL 0x0D, MOVALL
// 0x0E, DISCARD 0x0F) except for CLEAR, whose opcode is 0x04 and whose
// codes say 0x05. The reason byte is shared: 0x01 DeviceID out of range,
// 0x02 ITT size (MAPD) or processor number (MAPC) out of range, 0x03
// ICID out of range, 0x04 device not mapped, 0x05 EventID out of range,
// 0x06 physical INTID out of range, 0x07 event not mapped, 0x09
// collection not mapped (MOVALL's processor number is 0x01).
//
// The constants keep the specification's (and Linux's) spelling so they can
// be grepped against both. Where each comes from, since the architecture
// leaves the list to implementations: "Linux" codes are the ones
// include/linux/irqchip/arm-gic-v3.h defines (KVM returns them internally
// and never exposes them); "TRM" codes are listed in Arm's CoreLink
// GIC-600AE Technical Reference Manual (101206, issue 04, "ITS command
// errors"); "scheme" codes were not found in a document gicits could read
// and follow the layout above. docs/bad-input.md says where KVM uses
// another code internally.
type ErrorCode uint32

// The command errors gicits reports.
const (
	E_ITS_MOVI_DEVICE_OOR          ErrorCode = 0x010101 // TRM
	E_ITS_MOVI_COLLECTION_OOR      ErrorCode = 0x010103 // TRM
	E_ITS_MOVI_UNMAPPED_DEVICE     ErrorCode = 0x010104 // TRM
	E_ITS_MOVI_ID_OOR              ErrorCode = 0x010105 // TRM
	E_ITS_MOVI_UNMAPPED_INTERRUPT  ErrorCode = 0x010107 // Linux, TRM
	E_ITS_MOVI_UNMAPPED_COLLECTION ErrorCode = 0x010109 // Linux, TRM

	E_ITS_INT_DEVICE_OOR         ErrorCode = 0x010301 // TRM
	E_ITS_INT_UNMAPPED_DEVICE    ErrorCode = 0x010304 // TRM
	E_ITS_INT_ID_OOR             ErrorCode = 0x010305 // TRM
	E_ITS_INT_UNMAPPED_INTERRUPT ErrorCode = 0x010307 // Linux, TRM

	E_ITS_CLEAR_DEVICE_OOR         ErrorCode = 0x010501 // TRM
	E_ITS_CLEAR_UNMAPPED_DEVICE    ErrorCode = 0x010504 // TRM
	E_ITS_CLEAR_ID_OOR             ErrorCode = 0x010505 // TRM
	E_ITS_CLEAR_UNMAPPED_INTERRUPT ErrorCode = 0x010507 // Linux, TRM

	E_ITS_MAPD_DEVICE_OOR     ErrorCode = 0x010801 // Linux
	E_ITS_MAPD_ITTSIZE_OOR    ErrorCode = 0x010802 // Linux
	E_ITS_MAPC_PROCNUM_OOR    ErrorCode = 0x010902 // Linux
	E_ITS_MAPC_COLLECTION_OOR ErrorCode = 0x010903 // Linux, TRM

	E_ITS_MAPTI_DEVICE_OOR      ErrorCode = 0x010A01 // scheme
	E_ITS_MAPTI_COLLECTION_OOR  ErrorCode = 0x010A03 // scheme
	E_ITS_MAPTI_UNMAPPED_DEVICE ErrorCode = 0x010A04 // Linux
	E_ITS_MAPTI_ID_OOR          ErrorCode = 0x010A05 // Linux
	E_ITS_MAPTI_PHYSICALID_OOR  ErrorCode = 0x010A06 // Linux

	E_ITS_MAPI_DEVICE_OOR      ErrorCode = 0x010B01 // TRM
	E_ITS_MAPI_COLLECTION_OOR  ErrorCode = 0x010B03 // TRM
	E_ITS_MAPI_UNMAPPED_DEVICE ErrorCode = 0x010B04 // TRM
	E_ITS_MAPI_ID_OOR          ErrorCode = 0x010B05 // TRM
	E_ITS_MAPI_PHYSICALID_OOR  ErrorCode = 0x010B06 // scheme

	E_ITS_INV_DEVICE_OOR         ErrorCode = 0x010C01 // TRM
	E_ITS_INV_UNMAPPED_DEVICE    ErrorCode = 0x010C04 // TRM
	E_ITS_INV_ID_OOR             ErrorCode = 0x010C05 // scheme
	E_ITS_INV_UNMAPPED_INTERRUPT ErrorCode = 0x010C07 // Linux

	E_ITS_INVALL_COLLECTION_OOR      ErrorCode = 0x010D03 // TRM
	E_ITS_INVALL_UNMAPPED_COLLECTION ErrorCode = 0x010D09 // Linux, TRM
	E_ITS_MOVALL_PROCNUM_OOR         ErrorCode = 0x010E01 // Linux

	E_ITS_DISCARD_DEVICE_OOR         ErrorCode = 0x010F01 // scheme
	E_ITS_DISCARD_UNMAPPED_DEVICE    ErrorCode = 0x010F04 // scheme
	E_ITS_DISCARD_ID_OOR             ErrorCode = 0x010F05 // scheme
	E_ITS_DISCARD_UNMAPPED_INTERRUPT ErrorCode = 0x010F07 // Linux, TRM

	// GICv4.0. No document gicits could read lists these: they follow
	// the scheme, with the command byte the V* opcode and three reasons
	// of their own: 0x10 vPEID out of range (GITS_BASER's vPE table),
	// 0x11 vINTID out of range (the vPE's VPT_size), 0x12 VPT_size out
	// of range (the redistributors' INTID bits). A doorbell that is
	// neither 1023 nor an LPI is reason 0x06, a physical INTID out of
	// range.
	E_ITS_VMOVI_DEVICE_OOR         ErrorCode = 0x012101 // scheme
	E_ITS_VMOVI_UNMAPPED_DEVICE    ErrorCode = 0x012104 // scheme
	E_ITS_VMOVI_ID_OOR             ErrorCode = 0x012105 // scheme
	E_ITS_VMOVI_PHYSICALID_OOR     ErrorCode = 0x012106 // scheme
	E_ITS_VMOVI_UNMAPPED_INTERRUPT ErrorCode = 0x012107 // scheme
	E_ITS_VMOVI_VPEID_OOR          ErrorCode = 0x012110 // scheme
	E_ITS_VMOVI_VIRTUALID_OOR      ErrorCode = 0x012111 // scheme
	E_ITS_VMOVP_PROCNUM_OOR        ErrorCode = 0x012202 // scheme
	E_ITS_VMOVP_PHYSICALID_OOR     ErrorCode = 0x012206 // scheme (GICv4.1 Default_Doorbell)
	E_ITS_VMOVP_VPEID_OOR          ErrorCode = 0x012210 // scheme
	E_ITS_VSYNC_VPEID_OOR          ErrorCode = 0x012510 // scheme
	E_ITS_VMAPP_PROCNUM_OOR        ErrorCode = 0x012902 // scheme
	E_ITS_VMAPP_PHYSICALID_OOR     ErrorCode = 0x012906 // scheme (GICv4.1 Default_Doorbell)
	E_ITS_VMAPP_VPEID_OOR          ErrorCode = 0x012910 // scheme
	E_ITS_VMAPP_VPTSIZE_OOR        ErrorCode = 0x012912 // scheme
	E_ITS_VMAPTI_DEVICE_OOR        ErrorCode = 0x012A01 // scheme
	E_ITS_VMAPTI_UNMAPPED_DEVICE   ErrorCode = 0x012A04 // scheme
	E_ITS_VMAPTI_ID_OOR            ErrorCode = 0x012A05 // scheme
	E_ITS_VMAPTI_PHYSICALID_OOR    ErrorCode = 0x012A06 // scheme
	E_ITS_VMAPTI_VPEID_OOR         ErrorCode = 0x012A10 // scheme
	E_ITS_VMAPTI_VIRTUALID_OOR     ErrorCode = 0x012A11 // scheme
	E_ITS_VMAPI_DEVICE_OOR         ErrorCode = 0x012B01 // scheme
	E_ITS_VMAPI_UNMAPPED_DEVICE    ErrorCode = 0x012B04 // scheme
	E_ITS_VMAPI_ID_OOR             ErrorCode = 0x012B05 // scheme
	E_ITS_VMAPI_PHYSICALID_OOR     ErrorCode = 0x012B06 // scheme
	E_ITS_VMAPI_VPEID_OOR          ErrorCode = 0x012B10 // scheme
	E_ITS_VMAPI_VIRTUALID_OOR      ErrorCode = 0x012B11 // scheme
	E_ITS_VINVALL_VPEID_OOR        ErrorCode = 0x012D10 // scheme
)

var errorCodeNames = map[ErrorCode]string{
	E_ITS_MOVI_DEVICE_OOR:            "E_ITS_MOVI_DEVICE_OOR",
	E_ITS_MOVI_COLLECTION_OOR:        "E_ITS_MOVI_COLLECTION_OOR",
	E_ITS_MOVI_UNMAPPED_DEVICE:       "E_ITS_MOVI_UNMAPPED_DEVICE",
	E_ITS_MOVI_ID_OOR:                "E_ITS_MOVI_ID_OOR",
	E_ITS_MOVI_UNMAPPED_INTERRUPT:    "E_ITS_MOVI_UNMAPPED_INTERRUPT",
	E_ITS_MOVI_UNMAPPED_COLLECTION:   "E_ITS_MOVI_UNMAPPED_COLLECTION",
	E_ITS_INT_DEVICE_OOR:             "E_ITS_INT_DEVICE_OOR",
	E_ITS_INT_UNMAPPED_DEVICE:        "E_ITS_INT_UNMAPPED_DEVICE",
	E_ITS_INT_ID_OOR:                 "E_ITS_INT_ID_OOR",
	E_ITS_INT_UNMAPPED_INTERRUPT:     "E_ITS_INT_UNMAPPED_INTERRUPT",
	E_ITS_CLEAR_DEVICE_OOR:           "E_ITS_CLEAR_DEVICE_OOR",
	E_ITS_CLEAR_UNMAPPED_DEVICE:      "E_ITS_CLEAR_UNMAPPED_DEVICE",
	E_ITS_CLEAR_ID_OOR:               "E_ITS_CLEAR_ID_OOR",
	E_ITS_CLEAR_UNMAPPED_INTERRUPT:   "E_ITS_CLEAR_UNMAPPED_INTERRUPT",
	E_ITS_MAPD_DEVICE_OOR:            "E_ITS_MAPD_DEVICE_OOR",
	E_ITS_MAPD_ITTSIZE_OOR:           "E_ITS_MAPD_ITTSIZE_OOR",
	E_ITS_MAPC_PROCNUM_OOR:           "E_ITS_MAPC_PROCNUM_OOR",
	E_ITS_MAPC_COLLECTION_OOR:        "E_ITS_MAPC_COLLECTION_OOR",
	E_ITS_MAPTI_DEVICE_OOR:           "E_ITS_MAPTI_DEVICE_OOR",
	E_ITS_MAPTI_COLLECTION_OOR:       "E_ITS_MAPTI_COLLECTION_OOR",
	E_ITS_MAPTI_UNMAPPED_DEVICE:      "E_ITS_MAPTI_UNMAPPED_DEVICE",
	E_ITS_MAPTI_ID_OOR:               "E_ITS_MAPTI_ID_OOR",
	E_ITS_MAPTI_PHYSICALID_OOR:       "E_ITS_MAPTI_PHYSICALID_OOR",
	E_ITS_MAPI_DEVICE_OOR:            "E_ITS_MAPI_DEVICE_OOR",
	E_ITS_MAPI_COLLECTION_OOR:        "E_ITS_MAPI_COLLECTION_OOR",
	E_ITS_MAPI_UNMAPPED_DEVICE:       "E_ITS_MAPI_UNMAPPED_DEVICE",
	E_ITS_MAPI_ID_OOR:                "E_ITS_MAPI_ID_OOR",
	E_ITS_MAPI_PHYSICALID_OOR:        "E_ITS_MAPI_PHYSICALID_OOR",
	E_ITS_INV_DEVICE_OOR:             "E_ITS_INV_DEVICE_OOR",
	E_ITS_INV_UNMAPPED_DEVICE:        "E_ITS_INV_UNMAPPED_DEVICE",
	E_ITS_INV_ID_OOR:                 "E_ITS_INV_ID_OOR",
	E_ITS_INV_UNMAPPED_INTERRUPT:     "E_ITS_INV_UNMAPPED_INTERRUPT",
	E_ITS_INVALL_COLLECTION_OOR:      "E_ITS_INVALL_COLLECTION_OOR",
	E_ITS_INVALL_UNMAPPED_COLLECTION: "E_ITS_INVALL_UNMAPPED_COLLECTION",
	E_ITS_MOVALL_PROCNUM_OOR:         "E_ITS_MOVALL_PROCNUM_OOR",
	E_ITS_DISCARD_DEVICE_OOR:         "E_ITS_DISCARD_DEVICE_OOR",
	E_ITS_DISCARD_UNMAPPED_DEVICE:    "E_ITS_DISCARD_UNMAPPED_DEVICE",
	E_ITS_DISCARD_ID_OOR:             "E_ITS_DISCARD_ID_OOR",
	E_ITS_DISCARD_UNMAPPED_INTERRUPT: "E_ITS_DISCARD_UNMAPPED_INTERRUPT",
	E_ITS_VMOVI_DEVICE_OOR:           "E_ITS_VMOVI_DEVICE_OOR",
	E_ITS_VMOVI_UNMAPPED_DEVICE:      "E_ITS_VMOVI_UNMAPPED_DEVICE",
	E_ITS_VMOVI_ID_OOR:               "E_ITS_VMOVI_ID_OOR",
	E_ITS_VMOVI_PHYSICALID_OOR:       "E_ITS_VMOVI_PHYSICALID_OOR",
	E_ITS_VMOVI_UNMAPPED_INTERRUPT:   "E_ITS_VMOVI_UNMAPPED_INTERRUPT",
	E_ITS_VMOVI_VPEID_OOR:            "E_ITS_VMOVI_VPEID_OOR",
	E_ITS_VMOVI_VIRTUALID_OOR:        "E_ITS_VMOVI_VIRTUALID_OOR",
	E_ITS_VMOVP_PROCNUM_OOR:          "E_ITS_VMOVP_PROCNUM_OOR",
	E_ITS_VMOVP_PHYSICALID_OOR:       "E_ITS_VMOVP_PHYSICALID_OOR",
	E_ITS_VMOVP_VPEID_OOR:            "E_ITS_VMOVP_VPEID_OOR",
	E_ITS_VSYNC_VPEID_OOR:            "E_ITS_VSYNC_VPEID_OOR",
	E_ITS_VMAPP_PROCNUM_OOR:          "E_ITS_VMAPP_PROCNUM_OOR",
	E_ITS_VMAPP_PHYSICALID_OOR:       "E_ITS_VMAPP_PHYSICALID_OOR",
	E_ITS_VMAPP_VPEID_OOR:            "E_ITS_VMAPP_VPEID_OOR",
	E_ITS_VMAPP_VPTSIZE_OOR:          "E_ITS_VMAPP_VPTSIZE_OOR",
	E_ITS_VMAPTI_DEVICE_OOR:          "E_ITS_VMAPTI_DEVICE_OOR",
	E_ITS_VMAPTI_UNMAPPED_DEVICE:     "E_ITS_VMAPTI_UNMAPPED_DEVICE",
	E_ITS_VMAPTI_ID_OOR:              "E_ITS_VMAPTI_ID_OOR",
	E_ITS_VMAPTI_PHYSICALID_OOR:      "E_ITS_VMAPTI_PHYSICALID_OOR",
	E_ITS_VMAPTI_VPEID_OOR:           "E_ITS_VMAPTI_VPEID_OOR",
	E_ITS_VMAPTI_VIRTUALID_OOR:       "E_ITS_VMAPTI_VIRTUALID_OOR",
	E_ITS_VMAPI_DEVICE_OOR:           "E_ITS_VMAPI_DEVICE_OOR",
	E_ITS_VMAPI_UNMAPPED_DEVICE:      "E_ITS_VMAPI_UNMAPPED_DEVICE",
	E_ITS_VMAPI_ID_OOR:               "E_ITS_VMAPI_ID_OOR",
	E_ITS_VMAPI_PHYSICALID_OOR:       "E_ITS_VMAPI_PHYSICALID_OOR",
	E_ITS_VMAPI_VPEID_OOR:            "E_ITS_VMAPI_VPEID_OOR",
	E_ITS_VMAPI_VIRTUALID_OOR:        "E_ITS_VMAPI_VIRTUALID_OOR",
	E_ITS_VINVALL_VPEID_OOR:          "E_ITS_VINVALL_VPEID_OOR",
}

// ErrorCodes returns every error code gicits knows, in ascending order.
func ErrorCodes() []ErrorCode {
	codes := make([]ErrorCode, 0, len(errorCodeNames))
	for c := range errorCodeNames {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return codes
}

// String returns the code's specification name, or its hexadecimal value
// for a code gicits does not know.
func (c ErrorCode) String() string {
	if name, ok := errorCodeNames[c]; ok {
		return name
	}
	return fmt.Sprintf("E_ITS_%#06x", uint32(c))
}

// ParseErrorCode parses a specification name (E_ITS_MAPD_DEVICE_OOR), a
// number (0x010801), or what [ErrorCode.String] prints for a code gicits
// does not know (E_ITS_0x010203), so that String and ParseErrorCode round
// trip. 0 is not an error code.
func ParseErrorCode(s string) (ErrorCode, error) {
	for c, name := range errorCodeNames {
		if strings.EqualFold(s, name) {
			return c, nil
		}
	}
	num := s
	if len(num) > len("E_ITS_0x") && strings.EqualFold(num[:len("E_ITS_0x")], "E_ITS_0x") {
		num = num[len("E_ITS_"):]
	}
	if v, err := strconv.ParseUint(num, 0, 32); err == nil && v != 0 {
		return ErrorCode(v), nil
	}
	return 0, fmt.Errorf("unknown ITS error code %q (want a name such as E_ITS_MAPD_DEVICE_OOR or a non-zero number): %w", s, ErrInvalidArgument)
}

// CommandError reports an ITS command that failed: where it was in the
// command queue, what it was, and why, as an architectural [ErrorCode] or,
// for a command that could not even be read or decoded, a Cause.
//
// Linux KVM drops command errors silently; the simulator reports every one.
//
// Its text names the command and what went wrong, and no package: model
// does not know which one found the error. It reads "command at queue
// offset 0x40 (MAPTI ...): E_ITS_MAPTI_UNMAPPED_DEVICE (0x010a04): ...".
type CommandError struct {
	// Offset is the byte offset of the command in the command queue
	// (the GITS_CREADR value it was read at).
	Offset uint64
	// Packet is the command as it was read from the queue.
	Packet Packet
	// Code is the architectural error, or 0 when Cause says what failed.
	Code ErrorCode
	// Cause is the underlying error: a decode error for an unknown or
	// unsupported opcode, a [MemoryError] for a queue outside guest memory,
	// or nil.
	Cause error
	// Detail says in words what the check found, for people.
	Detail string
}

func (e *CommandError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "command at queue offset %#x", e.Offset)
	// A command refused for its opcode (a GICv4 one on an ITS without
	// GICv4) is named by the Cause; the mnemonic would say it twice.
	var oe *OpcodeError
	if cmd, err := DecodeCommand(e.Packet); err == nil && !errors.As(e.Cause, &oe) {
		fmt.Fprintf(&b, " (%v)", cmd)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, ": %v (%#06x)", e.Code, uint32(e.Code))
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	if e.Cause != nil {
		fmt.Fprintf(&b, ": %v", e.Cause)
	}
	return b.String()
}

func (e *CommandError) Unwrap() error { return e.Cause }

// MemoryError reports a guest physical access outside guest memory.
type MemoryError struct {
	Addr GPA
	Len  int
	Op   string // "read" or "write"
}

func (e *MemoryError) Error() string {
	return fmt.Sprintf("guest memory %s of %d bytes at %v: outside guest memory", e.Op, e.Len, e.Addr)
}

func (e *MemoryError) Unwrap() error { return ErrOutOfRange }
