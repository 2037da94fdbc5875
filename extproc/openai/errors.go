package openai

import (
	"fmt"
	"strconv"
)

// RequestError says why a request body was refused. Msg is written for the
// caller (it goes into the 400 body): it names a byte offset or a field, never
// the body's content beyond one offending character.
type RequestError struct {
	Field string // JSON path of the offending member, e.g. "messages[2].content"; empty for syntax errors
	Msg   string
}

// Error implements [error].
func (e *RequestError) Error() string { return "openai: " + e.Msg }

// typeErr reports a member whose value has the wrong type.
func typeErr(field, want string) *RequestError {
	return &RequestError{Field: field, Msg: fmt.Sprintf("%q must be %s", field, want)}
}

// wrongType reports a value of the wrong type, unless the value is not even
// valid JSON: then the syntax error is the better answer.
func (s *scanner) wrongType(depth int, l loc, want string) error {
	if err := s.skipValue(depth); err != nil {
		return err
	}
	return typeErr(l.String(), want)
}

// settle takes the outcome of reading one member's value, which started at
// start. A type error is held, not returned, until the object ends: a later
// duplicate of the member replaces it, as it replaces the value (last wins).
// The value is then skipped, so syntax is still checked to the end.
func (s *scanner) settle(err error, start, depth int, held *error) error {
	*held = nil
	if err == nil {
		return nil
	}
	if !isTypeErr(err) {
		return err
	}
	s.pos = start
	if serr := s.skipValue(depth); serr != nil {
		return serr
	}
	*held = err
	return nil
}

// isTypeErr tells a wrong member type, which a later duplicate may override,
// from a syntax error, which is final.
func isTypeErr(err error) bool {
	re, ok := err.(*RequestError)
	return ok && re.Field != ""
}

func firstHeld(held []error) error {
	for _, err := range held {
		if err != nil {
			return err
		}
	}
	return nil
}

// loc names a member for an error message. It is carried down the parse as
// indices and formatted only on the error path, so a valid body costs no
// formatting.
type loc struct {
	kind    locKind
	mi, sub int    // message index; content part or tool call index
	leaf    string // the rest of the path
	tail    string // and what follows it, so no concatenation happens before an error
}

type locKind uint8

const (
	locTop      locKind = iota // leaf
	locMsg                     // messages[mi]leaf
	locPart                    // messages[mi].content[sub]leaf
	locCall                    // messages[mi].tool_calls[sub]leaf
	locFuncCall                // messages[mi].function_callleaf
)

func (l loc) String() string { return l.head() + l.leaf + l.tail }

func (l loc) head() string {
	msg := "messages[" + strconv.Itoa(l.mi) + "]"
	switch l.kind {
	case locMsg:
		return msg
	case locPart:
		return msg + ".content[" + strconv.Itoa(l.sub) + "]"
	case locCall:
		return msg + ".tool_calls[" + strconv.Itoa(l.sub) + "]"
	case locFuncCall:
		return msg + ".function_call"
	}
	return ""
}
