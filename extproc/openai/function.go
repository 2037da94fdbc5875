package openai

import "github.com/iasolaris/tokengate/extproc/tokens"

// function is the text of a {name, arguments} object: two strings the model
// reads (or wrote) separately, merged in body order.
type function struct {
	name, args       tokens.Text
	hasName, hasArgs bool // present as strings
	argsFirst        bool // the arguments that count came before the name that counts
	size             int  // raw bytes of both: zero iff both are empty
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

// functionDelta reads a {name, arguments} object at depth; members that are
// not strings read as absent.
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
				nameSize, err = s.feedString()
				f.name = s.piece
			}
		case "arguments":
			f.args, f.hasArgs, argsSize, f.argsFirst = tokens.Text{}, str, 0, false
			if str {
				argsSize, err = s.feedString()
				f.args = s.piece
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
