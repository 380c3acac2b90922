// Package archive is the archive (档案) model shared by the gateway and the simulator:
// terminals, meters and their routes, RS-485 buses, TCP links to serial servers and Modbus
// register maps, with the JSON and CSV forms and their validation.
//
// It must not talk to devices or store anything: the gateway persists an archive and the
// simulator exports one, both through this package.
package archive
