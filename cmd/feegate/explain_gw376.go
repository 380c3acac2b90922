package main

import "errors"

// explainGW376 decodes one Q/GDW 376.1 frame.
func explainGW376(raw []byte, opt explainOptions) (explanation, error) {
	return explanation{}, errors.New("Q/GDW 376.1 explain is not built yet")
}
