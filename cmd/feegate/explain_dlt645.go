package main

import "errors"

// explainDLT645 decodes one DL/T 645 frame.
func explainDLT645(raw []byte, opt explainOptions) (explanation, error) {
	return explanation{}, errors.New("DL/T 645 explain is not built yet")
}
