// Package plan holds the execution plans of the command engine: the gateway.Driver of each
// route kind, which turns an action into frames, sends them through transport and decodes
// the replies. A meter behind a terminal gets its DL/T 645 frame wrapped in AFN10 F1; a
// meter on a local bus or a TCP link gets the frame on that line; a terminal control turn
// gets AFN05 and is read back with AFN0C; a Modbus meter gets coil and register requests
// from its register map.
//
// It must not decide retries, verification or interlocks (the engine does) and must not
// parse or build frames beyond what the codecs offer.
package plan
