package openai

import "github.com/iasolaris/tokengate/extproc/tokens"

// function is the text of a {name, arguments} object: two strings the model
// reads (or wrote) separately, merged in body order.
type function struct {
	name, args       tokens.Text
	hasName, hasArgs bool // present as strings
	argsFirst        bool // the arguments that count came before the name that counts
	size             int  // raw bytes of both: zero iff both are empty
	nameAt, argsAt   int  // where the strings that count start: a continued scanner feeds them once the object is read
}

func (f *function) mergeInto(t *tokens.Text) {
	if f.hasArgs && f.argsFirst {
		t.Merge(f.args)
	}
	if f.hasName {
		t.Merge(f.name)
	}
	if f.hasArgs && !f.argsFirst {
		t.Merge(f.args)
	}
}

// function reads a request's {name, arguments} object at depth.
func (s *scanner) function(depth int, l loc) (function, error) {
	var f function
	var held [2]error
	more, err := s.enterObject(depth)
	for more && err == nil {
		var key []byte
		if key, err = s.key(); err != nil {
			return function{}, err
		}
		start := s.pos
		switch string(key) {
		case "name":
			f.hasName, _, err = s.text(true, depth, loc{kind: l.kind, mi: l.mi, sub: l.sub, leaf: l.leaf, tail: ".name"})
			f.name, f.argsFirst = s.piece, true
			err = s.settle(err, start, depth, &held[0])
		case "arguments":
			f.hasArgs, _, err = s.text(true, depth, loc{kind: l.kind, mi: l.mi, sub: l.sub, leaf: l.leaf, tail: ".arguments"})
			f.args, f.argsFirst = s.piece, false
			err = s.settle(err, start, depth, &held[1])
		default:
			err = s.skipValue(depth)
		}
		if err != nil {
			return function{}, err
		}
		more, err = s.next('}')
	}
	if err != nil {
		return function{}, err
	}
	return f, firstHeld(held[:])
}

// addFunction adds f's name and arguments to t in body order: merged as
// texts of their own, or fed to t for a continued scanner.
func (s *scanner) addFunction(f *function, t *tokens.Text) error {
	if !s.continued {
		f.mergeInto(t)
		return nil
	}
	at := [2]int{-1, -1} // where the strings start, in body order
	if f.hasName {
		at[0] = f.nameAt
	}
	if f.hasArgs {
		if f.argsFirst {
			at[0], at[1] = f.argsAt, at[0]
		} else {
			at[1] = f.argsAt
		}
	}
	end := s.pos
	defer func() { s.pos = end }()
	for _, pos := range at {
		if pos < 0 {
			continue
		}
		s.pos = pos
		if _, err := s.feedStringTo(t); err != nil {
			return err
		}
	}
	return nil
}

// functionDelta reads a {name, arguments} object at depth; members that are
// not strings read as absent. A continued scanner only validates the
// strings, recording where they are for addFunction.
func (s *scanner) functionDelta(depth int) (function, error) {
	var f function
	var nameSize, argsSize int
	more, err := s.enterObject(depth)
	for more && err == nil {
		var key []byte
		if key, err = s.key(); err != nil {
			return function{}, err
		}
		str := s.peek() == '"'
		switch string(key) {
		case "name":
			f.name, f.hasName, nameSize, f.argsFirst = tokens.Text{}, str, 0, true
			if str {
				f.nameAt = s.pos
				nameSize, err = s.deltaString(&f.name)
			}
		case "arguments":
			f.args, f.hasArgs, argsSize, f.argsFirst = tokens.Text{}, str, 0, false
			if str {
				f.argsAt = s.pos
				argsSize, err = s.deltaString(&f.args)
			}
		default:
			str = false
		}
		if !str {
			err = s.skipValue(depth)
		}
		if err != nil {
			return function{}, err
		}
		more, err = s.next('}')
	}
	f.size = nameSize + argsSize
	return f, err
}

// deltaString reads the string at s.pos into t as a text of its own, or,
// for a continued scanner, only validates it. It returns the raw length.
func (s *scanner) deltaString(t *tokens.Text) (int, error) {
	if s.continued {
		start := s.pos
		err := s.skipString()
		return s.pos - start - 2, err
	}
	size, err := s.feedString()
	*t = s.piece
	return size, err
}
