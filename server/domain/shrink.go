package domain

import "maps"

// shrinkBelow is the size under which maps are not worth shrinking.
const shrinkBelow = 1024

// shrunk returns m, or a copy of m once it holds a quarter or less of the
// most it held since the last copy (*peak, which it keeps up to date). A Go
// map keeps the room it grew to after its entries are deleted, so without
// this the maps that track visitors would hold on to the memory of the
// busiest moment after everyone left. Copying at a quarter costs O(1) per
// deletion, amortized.
func shrunk[K comparable, V any](m map[K]V, peak *int) map[K]V {
	n := len(m)
	if n > *peak {
		*peak = n
		return m
	}
	if *peak < shrinkBelow || n > *peak/4 {
		return m
	}
	*peak = n
	c := make(map[K]V, n) // maps.Clone would keep m's room
	maps.Copy(c, m)
	return c
}
