# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mqtk_global_optspecs
    string join \n h/help V/version
end

function __fish_mqtk_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mqtk_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mqtk_using_subcommand
    set -l cmd (__fish_mqtk_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mqtk -n "__fish_mqtk_needs_command" -s h -l help -d 'Print help'
complete -c mqtk -n "__fish_mqtk_needs_command" -s V -l version -d 'Print version'
complete -c mqtk -n "__fish_mqtk_needs_command" -f -a "broker" -d 'Run the embedded MQTT broker'
complete -c mqtk -n "__fish_mqtk_needs_command" -f -a "passwd" -d 'Manage password files (mosquitto_passwd)'
complete -c mqtk -n "__fish_mqtk_needs_command" -f -a "pub" -d 'Publish messages (mosquitto_pub)'
complete -c mqtk -n "__fish_mqtk_needs_command" -f -a "sub" -d 'Subscribe and print messages (mosquitto_sub)'
complete -c mqtk -n "__fish_mqtk_needs_command" -f -a "rr" -d 'Publish a request and wait for the response (mosquitto_rr)'
complete -c mqtk -n "__fish_mqtk_needs_command" -f -a "record" -d 'Record messages to a file (NDJSON) with their timing, flags and properties'
complete -c mqtk -n "__fish_mqtk_needs_command" -f -a "replay" -d 'Publish recorded messages again, in their order and with their timing'
complete -c mqtk -n "__fish_mqtk_needs_command" -f -a "bench" -d 'Load-test a broker: publishers and subscribers (default), or `pub`, `sub`, `conn`; `merge` combines reports'
complete -c mqtk -n "__fish_mqtk_needs_command" -f -a "check" -d 'Probe a broker: which MQTT versions and features it supports, and where its limits are'
complete -c mqtk -n "__fish_mqtk_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqtk -n "__fish_mqtk_using_subcommand broker" -s p -l port -d 'Listen on this port (default 1883), on loopback only, when no config file defines listeners. Ignored when the config file defines listeners, as in mosquitto' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand broker" -s c -l config-file -d 'Read a mosquitto.conf-style configuration file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand broker" -s v -l verbose -d 'Verbose: log every kind of message (log_type all), overriding the config file'
complete -c mqtk -n "__fish_mqtk_using_subcommand broker" -s h -l help -d 'Print help'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s h -l host -d 'MQTT host to connect to. Defaults to localhost' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s p -l port -d 'Network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s u -l username -d 'Provide a username' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s P -l pw -d 'Provide a password' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s i -l id -d 'Id to use for this client. Defaults to an empty id (the broker assigns one); MQTT 3.1 gets a random `mosq-…` id' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s I -l id-prefix -d 'Define the client id as ID_PREFIX followed by the process id' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s k -l keepalive -d 'Keep alive in seconds for this client. Defaults to 60' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s x -d 'Session expiry interval (MQTT v5): 0-4294967294 seconds, or -1, 4294967295 or ∞ for a session that does not expire. Defaults to -1 with -c, else 0. Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s V -l protocol-version -d 'MQTT protocol version: mqttv5 (5), mqttv311 (311) or mqttv31 (31). Defaults to mqttv311' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s A -d 'Bind the outgoing socket to this host/ip address' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l unix -d 'Connect through a unix domain socket instead of TCP' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s L -l url -d 'User, password, host, port and topic as a URL: mqtt(s)://[username[:password]@]host[:port]/topic or ws(s)://…' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s o -d 'Read options from FILE instead of the default options file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s M -d 'The maximum number of QoS 1/2 messages in flight. Defaults to the broker\'s receive maximum (MQTT v5), else 65535; at most 1 MiB of payload is ever unacknowledged' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l proxy -d 'SOCKS5 (socks5h://[user[:pass]@]host[:port]) or HTTP CONNECT (http://…) proxy' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l will-topic -d 'Topic of the client\'s will, sent by the broker on unexpected disconnection' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l will-payload -d 'Payload of the will (empty if not given)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l will-qos -d 'QoS of the will' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s D -l property -d 'MQTT v5 property: COMMAND NAME VALUE (or COMMAND user-property KEY VALUE), e.g. `-D publish message-expiry-interval 30`. Commands: connect, publish, disconnect, will (and subscribe/unsubscribe for sub). Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l cafile -d 'Path to a file of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l capath -d 'Path to a directory of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l cert -d 'Client certificate for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l key -d 'Client private key for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l keyform -d 'Key file type: only "pem" is supported ("engine" needs OpenSSL)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l ciphers -d 'OpenSSL-style list of TLS ciphers, mapped to the suites rustls offers' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l tls-version -d 'TLS protocol version: tlsv1.3 or tlsv1.2' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l tls-alpn -d 'TLS ALPN protocol' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l tls-engine -d 'Not supported (OpenSSL engines); accepted only to be rejected with a clear error' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l tls-engine-kpass-sha1 -d 'Not supported (OpenSSL engines)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l psk -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l psk-identity -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l tls-keylog -d 'Append the TLS session secrets to FILE (NSS key log format, created with mode 0600), so that Wireshark can decrypt the traffic. For debugging only. Without this flag, $SSLKEYLOGFILE names the file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s t -l topic -d 'MQTT topic to publish to' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s m -l message -d 'Message payload to send' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s f -l file -d 'Send the contents of a file as the message (streamed from disk)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s q -l qos -d 'Quality of service level to use for all messages. Defaults to 0' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l repeat -d 'With -m, -f, -s or -n: publish the message N times' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l repeat-delay -d 'With --repeat: wait SECONDS (fractions allowed) between publishes. Defaults to 0' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l encode -d 'The message (each line, with -l) is JSON: encode it to FORMAT before publishing: sparkplug, proto:FILE.proto:package.Message, cbor, msgpack or json (mqtk)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l proto-path -d 'Where the imports of an --encode proto: file are also looked for (after the file\'s own directory). May be repeated' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s c -l disable-clean-session -d 'Disable clean session/enable persistent client mode'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l nodelay -d 'Disable Nagle\'s algorithm (always disabled in mqtk, which batches writes itself)'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l mptcp -d 'Not supported (Multipath TCP); accepted only to be rejected with a clear error'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l ws -d 'Connect using WebSockets'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l will-retain -d 'Make the will retained'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l insecure -d 'Do not check the server\'s host name against its certificate'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l tls-use-os-certs -d 'Load and trust the operating system\'s CA certificates'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l no-tls -d 'Never use TLS, even on port 8883'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s d -l debug -d 'Enable debug messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l quiet -d 'Don\'t print error messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l help -d 'Print help'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -l version -d 'Print the version'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s s -l stdin-file -d 'Read the message from stdin, sending the entire input as one message'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s l -l stdin-line -d 'Read messages from stdin, sending a separate message for each line'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s n -l null-message -d 'Send a null (zero length) message'
complete -c mqtk -n "__fish_mqtk_using_subcommand pub" -s r -l retain -d 'The message should be retained'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s h -l host -d 'MQTT host to connect to. Defaults to localhost' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s p -l port -d 'Network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s u -l username -d 'Provide a username' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s P -l pw -d 'Provide a password' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s i -l id -d 'Id to use for this client. Defaults to an empty id (the broker assigns one); MQTT 3.1 gets a random `mosq-…` id' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s I -l id-prefix -d 'Define the client id as ID_PREFIX followed by the process id' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s k -l keepalive -d 'Keep alive in seconds for this client. Defaults to 60' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s x -d 'Session expiry interval (MQTT v5): 0-4294967294 seconds, or -1, 4294967295 or ∞ for a session that does not expire. Defaults to -1 with -c, else 0. Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s V -l protocol-version -d 'MQTT protocol version: mqttv5 (5), mqttv311 (311) or mqttv31 (31). Defaults to mqttv311' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s A -d 'Bind the outgoing socket to this host/ip address' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l unix -d 'Connect through a unix domain socket instead of TCP' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s L -l url -d 'User, password, host, port and topic as a URL: mqtt(s)://[username[:password]@]host[:port]/topic or ws(s)://…' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s o -d 'Read options from FILE instead of the default options file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s M -d 'The maximum number of QoS 1/2 messages in flight. Defaults to the broker\'s receive maximum (MQTT v5), else 65535; at most 1 MiB of payload is ever unacknowledged' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l proxy -d 'SOCKS5 (socks5h://[user[:pass]@]host[:port]) or HTTP CONNECT (http://…) proxy' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l will-topic -d 'Topic of the client\'s will, sent by the broker on unexpected disconnection' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l will-payload -d 'Payload of the will (empty if not given)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l will-qos -d 'QoS of the will' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s D -l property -d 'MQTT v5 property: COMMAND NAME VALUE (or COMMAND user-property KEY VALUE), e.g. `-D publish message-expiry-interval 30`. Commands: connect, publish, disconnect, will (and subscribe/unsubscribe for sub). Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l cafile -d 'Path to a file of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l capath -d 'Path to a directory of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l cert -d 'Client certificate for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l key -d 'Client private key for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l keyform -d 'Key file type: only "pem" is supported ("engine" needs OpenSSL)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l ciphers -d 'OpenSSL-style list of TLS ciphers, mapped to the suites rustls offers' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l tls-version -d 'TLS protocol version: tlsv1.3 or tlsv1.2' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l tls-alpn -d 'TLS ALPN protocol' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l tls-engine -d 'Not supported (OpenSSL engines); accepted only to be rejected with a clear error' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l tls-engine-kpass-sha1 -d 'Not supported (OpenSSL engines)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l psk -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l psk-identity -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l tls-keylog -d 'Append the TLS session secrets to FILE (NSS key log format, created with mode 0600), so that Wireshark can decrypt the traffic. For debugging only. Without this flag, $SSLKEYLOGFILE names the file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s t -l topic -d 'MQTT topic to subscribe to. May be repeated' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s T -l filter-out -d 'Topic filter whose messages are not printed. May be repeated' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s U -l unsubscribe -d 'Unsubscribe from a topic (after subscribing). May be repeated' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s q -l qos -d 'Quality of service level to use for the subscriptions. Defaults to 0' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s C -d 'Disconnect and exit after receiving COUNT messages' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s W -d 'Stop after SECONDS: print "Timed out" and exit with status 27' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l retain-handling -d 'When the broker sends retained messages (MQTT v5): always, new or never' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l random-filter -d 'Only print this percentage of messages (0.1-100.0), chosen at random' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s F -d 'Output format (mosquitto_sub\'s %-specifiers, @-time and \\-escapes)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l decode -d 'Show payloads as JSON, decoded from FORMAT: sparkplug, proto:FILE.proto:package.Message, cbor, msgpack, json or auto (mqtk). A payload that does not decode is reported on stderr and shown as received' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l proto-path -d 'Where the imports of a --decode proto: file are also looked for (after the file\'s own directory). May be repeated' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s c -l disable-clean-session -d 'Disable clean session/enable persistent client mode'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l nodelay -d 'Disable Nagle\'s algorithm (always disabled in mqtk, which batches writes itself)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l mptcp -d 'Not supported (Multipath TCP); accepted only to be rejected with a clear error'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l ws -d 'Connect using WebSockets'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l will-retain -d 'Make the will retained'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l insecure -d 'Do not check the server\'s host name against its certificate'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l tls-use-os-certs -d 'Load and trust the operating system\'s CA certificates'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l no-tls -d 'Never use TLS, even on port 8883'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s d -l debug -d 'Enable debug messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l quiet -d 'Don\'t print error messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l help -d 'Print help'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l version -d 'Print the version'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s E -d 'Exit once all subscriptions have been acknowledged by the broker'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s R -d 'Do not print stale messages (those with retain set)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l retained-only -d 'Only handle retained messages; exit at the first message that is not retained'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l remove-retained -d 'Clear every retained message received (except those -T filters out). With -C or --retained-only, exit 0 once the deletions are acknowledged (mosquitto_sub runs on until -W or a signal)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l retain-as-published -d 'Subscribe with "retain as published" (MQTT v5)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s v -l verbose -d 'Print published messages verbosely (topic, then payload)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s N -d 'Do not add an end of line character when printing the payload'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l pretty -d 'Print JSON (%j, %J, and payloads --decode shows) indented rather than minimised'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -s w -l watch -d 'Redraw one screen line per topic'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l line-buffered -d 'Flush the output after every message (by default it is flushed when no more messages are waiting, or at once on a terminal)'
complete -c mqtk -n "__fish_mqtk_using_subcommand sub" -l message-rate -d 'Instead of the messages, print how many arrived in each second ("N msgs/s"). The options that choose which messages to print and how (-C, -R, -T, -v, -F, …) have no effect then, as in mosquitto 2.1'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s h -l host -d 'MQTT host to connect to. Defaults to localhost' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s p -l port -d 'Network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s u -l username -d 'Provide a username' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s P -l pw -d 'Provide a password' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s i -l id -d 'Id to use for this client. Defaults to an empty id (the broker assigns one); MQTT 3.1 gets a random `mosq-…` id' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s I -l id-prefix -d 'Define the client id as ID_PREFIX followed by the process id' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s k -l keepalive -d 'Keep alive in seconds for this client. Defaults to 60' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s x -d 'Session expiry interval (MQTT v5): 0-4294967294 seconds, or -1, 4294967295 or ∞ for a session that does not expire. Defaults to -1 with -c, else 0. Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s A -d 'Bind the outgoing socket to this host/ip address' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l unix -d 'Connect through a unix domain socket instead of TCP' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s L -l url -d 'User, password, host, port and topic as a URL: mqtt(s)://[username[:password]@]host[:port]/topic or ws(s)://…' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s o -d 'Read options from FILE instead of the default options file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s M -d 'The maximum number of QoS 1/2 messages in flight. Defaults to the broker\'s receive maximum (MQTT v5), else 65535; at most 1 MiB of payload is ever unacknowledged' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l proxy -d 'SOCKS5 (socks5h://[user[:pass]@]host[:port]) or HTTP CONNECT (http://…) proxy' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l will-topic -d 'Topic of the client\'s will, sent by the broker on unexpected disconnection' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l will-payload -d 'Payload of the will (empty if not given)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l will-qos -d 'QoS of the will' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s D -l property -d 'MQTT v5 property: COMMAND NAME VALUE (or COMMAND user-property KEY VALUE), e.g. `-D publish message-expiry-interval 30`. Commands: connect, publish, disconnect, will (and subscribe/unsubscribe for sub). Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l cafile -d 'Path to a file of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l capath -d 'Path to a directory of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l cert -d 'Client certificate for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l key -d 'Client private key for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l keyform -d 'Key file type: only "pem" is supported ("engine" needs OpenSSL)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l ciphers -d 'OpenSSL-style list of TLS ciphers, mapped to the suites rustls offers' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l tls-version -d 'TLS protocol version: tlsv1.3 or tlsv1.2' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l tls-alpn -d 'TLS ALPN protocol' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l tls-engine -d 'Not supported (OpenSSL engines); accepted only to be rejected with a clear error' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l tls-engine-kpass-sha1 -d 'Not supported (OpenSSL engines)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l psk -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l psk-identity -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l tls-keylog -d 'Append the TLS session secrets to FILE (NSS key log format, created with mode 0600), so that Wireshark can decrypt the traffic. For debugging only. Without this flag, $SSLKEYLOGFILE names the file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s t -l topic -d 'Topic the request is published to' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s e -d 'Response topic: subscribed to, and sent with the request' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s m -l message -d 'Request payload' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s f -l file -d 'Send the contents of a file as the request' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s q -l qos -d 'Quality of service for the request and the response subscription. Defaults to 0' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s W -d 'Give up after SECONDS: print "Timed out" and exit with status 27' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l count -d 'Wait for N responses instead of one (mqtk)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l retain-handling -d 'When the broker sends retained messages on the response topic (MQTT v5): always, new or never' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s F -d 'Output format, as for `mqtk sub -F`' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l decode -d 'Show responses as JSON, decoded from FORMAT, as for `mqtk sub --decode` (mqtk)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l encode -d 'The request is JSON: encode it to FORMAT (sparkplug, proto:FILE.proto:package.Message, cbor, msgpack or json) before sending it (mqtk)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l proto-path -d 'Where the imports of a proto: file are also looked for. May be repeated' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s V -l protocol-version -d 'MQTT protocol version: mqttv5 (5), mqttv311 (311) or mqttv31 (31). Defaults to mqttv5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s c -l disable-clean-session -d 'Disable clean session/enable persistent client mode'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l nodelay -d 'Disable Nagle\'s algorithm (always disabled in mqtk, which batches writes itself)'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l mptcp -d 'Not supported (Multipath TCP); accepted only to be rejected with a clear error'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l ws -d 'Connect using WebSockets'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l will-retain -d 'Make the will retained'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l insecure -d 'Do not check the server\'s host name against its certificate'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l tls-use-os-certs -d 'Load and trust the operating system\'s CA certificates'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l no-tls -d 'Never use TLS, even on port 8883'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s d -l debug -d 'Enable debug messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l quiet -d 'Don\'t print error messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l help -d 'Print help'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l version -d 'Print the version'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s s -l stdin-file -d 'Read the request from stdin (all of it, one message)'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s n -l null-message -d 'Send a null (zero length) request'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l latency -d 'Print the time from request to (last) response, as mosquitto_rr 2.1 does'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l correlate -d 'Send random correlation data with the request and print only responses that carry it back (mqtk; MQTT v5). Without it, as mosquitto_rr, any message on the response topic is the response'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s R -d 'Do not print stale (retained) responses, and in MQTT v5 ask the broker not to send retained messages at all'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l retain-as-published -d 'Subscribe to the response topic with "retain as published" (MQTT v5)'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s v -l verbose -d 'Print responses verbosely (topic, then payload)'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -s N -d 'Do not add an end of line character when printing the payload'
complete -c mqtk -n "__fish_mqtk_using_subcommand rr" -l pretty -d 'Print JSON (%j, %J, and responses --decode shows) indented rather than minimised'
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s h -l host -d 'MQTT host to connect to. Defaults to localhost' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s p -l port -d 'Network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s u -l username -d 'Provide a username' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s P -l pw -d 'Provide a password' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s i -l id -d 'Id to use for this client. Defaults to an empty id (the broker assigns one); MQTT 3.1 gets a random `mosq-…` id' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s I -l id-prefix -d 'Define the client id as ID_PREFIX followed by the process id' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s k -l keepalive -d 'Keep alive in seconds for this client. Defaults to 60' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s x -d 'Session expiry interval (MQTT v5): 0-4294967294 seconds, or -1, 4294967295 or ∞ for a session that does not expire. Defaults to -1 with -c, else 0. Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s A -d 'Bind the outgoing socket to this host/ip address' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l unix -d 'Connect through a unix domain socket instead of TCP' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s L -l url -d 'User, password, host, port and topic as a URL: mqtt(s)://[username[:password]@]host[:port]/topic or ws(s)://…' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s M -d 'The maximum number of QoS 1/2 messages in flight. Defaults to the broker\'s receive maximum (MQTT v5), else 65535; at most 1 MiB of payload is ever unacknowledged' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l proxy -d 'SOCKS5 (socks5h://[user[:pass]@]host[:port]) or HTTP CONNECT (http://…) proxy' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l will-topic -d 'Topic of the client\'s will, sent by the broker on unexpected disconnection' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l will-payload -d 'Payload of the will (empty if not given)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l will-qos -d 'QoS of the will' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s D -l property -d 'MQTT v5 property: COMMAND NAME VALUE (or COMMAND user-property KEY VALUE), e.g. `-D publish message-expiry-interval 30`. Commands: connect, publish, disconnect, will (and subscribe/unsubscribe for sub). Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l cafile -d 'Path to a file of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l capath -d 'Path to a directory of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l cert -d 'Client certificate for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l key -d 'Client private key for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l keyform -d 'Key file type: only "pem" is supported ("engine" needs OpenSSL)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l ciphers -d 'OpenSSL-style list of TLS ciphers, mapped to the suites rustls offers' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l tls-version -d 'TLS protocol version: tlsv1.3 or tlsv1.2' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l tls-alpn -d 'TLS ALPN protocol' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l tls-engine -d 'Not supported (OpenSSL engines); accepted only to be rejected with a clear error' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l tls-engine-kpass-sha1 -d 'Not supported (OpenSSL engines)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l psk -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l psk-identity -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l tls-keylog -d 'Append the TLS session secrets to FILE (NSS key log format, created with mode 0600), so that Wireshark can decrypt the traffic. For debugging only. Without this flag, $SSLKEYLOGFILE names the file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s o -l output -d 'Write the record to FILE, or to standard output with `-o -`. A FILE ending in .zst is compressed with zstd as it is written. An existing FILE is replaced' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s t -l topic -d 'MQTT topic filter to record. May be repeated' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s T -l filter-out -d 'Topic filter whose messages are not recorded. May be repeated' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s q -l qos -d 'Quality of service level to subscribe with. Defaults to 0' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s C -d 'Stop after recording COUNT messages' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s W -d 'Stop after SECONDS: the record is complete, "Timed out" is printed and the exit status is 27, as with `mqtk sub -W`' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l retain-handling -d 'When the broker sends retained messages (MQTT v5): always, new or never' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l decode -d 'Also record each payload decoded from FORMAT, as JSON in the line\'s "decoded" field (the payload itself is kept, so replay sends the same bytes): sparkplug, proto:FILE.proto:package.Message, cbor, msgpack, json or auto. A payload that does not decode is reported on stderr and recorded without "decoded"' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l proto-path -d 'Where the imports of a --decode proto: file are also looked for (after the file\'s own directory). May be repeated' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l options-file -d 'Read options from FILE instead of the default options file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s V -l protocol-version -d 'MQTT protocol version: mqttv5 (5), mqttv311 (311) or mqttv31 (31). Defaults to mqttv5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s c -l disable-clean-session -d 'Disable clean session/enable persistent client mode'
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l nodelay -d 'Disable Nagle\'s algorithm (always disabled in mqtk, which batches writes itself)'
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l mptcp -d 'Not supported (Multipath TCP); accepted only to be rejected with a clear error'
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l ws -d 'Connect using WebSockets'
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l will-retain -d 'Make the will retained'
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l insecure -d 'Do not check the server\'s host name against its certificate'
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l tls-use-os-certs -d 'Load and trust the operating system\'s CA certificates'
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l no-tls -d 'Never use TLS, even on port 8883'
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s d -l debug -d 'Enable debug messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l quiet -d 'Don\'t print error messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l help -d 'Print help'
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l version -d 'Print the version'
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -s R -d 'Do not record stale messages (those with retain set)'
complete -c mqtk -n "__fish_mqtk_using_subcommand record" -l retain-as-published -d 'Subscribe with "retain as published" (MQTT v5), so that the retain flag of messages published while recording is recorded as their publisher set it'
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -s h -l host -d 'MQTT host to connect to. Defaults to localhost' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -s p -l port -d 'Network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -s u -l username -d 'Provide a username' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -s P -l pw -d 'Provide a password' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -s i -l id -d 'Id to use for this client. Defaults to an empty id (the broker assigns one); MQTT 3.1 gets a random `mosq-…` id' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -s I -l id-prefix -d 'Define the client id as ID_PREFIX followed by the process id' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -s k -l keepalive -d 'Keep alive in seconds for this client. Defaults to 60' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -s x -d 'Session expiry interval (MQTT v5): 0-4294967294 seconds, or -1, 4294967295 or ∞ for a session that does not expire. Defaults to -1 with -c, else 0. Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -s A -d 'Bind the outgoing socket to this host/ip address' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l unix -d 'Connect through a unix domain socket instead of TCP' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -s L -l url -d 'User, password, host, port and topic as a URL: mqtt(s)://[username[:password]@]host[:port]/topic or ws(s)://…' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -s M -d 'The maximum number of QoS 1/2 messages in flight. Defaults to the broker\'s receive maximum (MQTT v5), else 65535; at most 1 MiB of payload is ever unacknowledged' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l proxy -d 'SOCKS5 (socks5h://[user[:pass]@]host[:port]) or HTTP CONNECT (http://…) proxy' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l will-topic -d 'Topic of the client\'s will, sent by the broker on unexpected disconnection' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l will-payload -d 'Payload of the will (empty if not given)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l will-qos -d 'QoS of the will' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -s D -l property -d 'MQTT v5 property: COMMAND NAME VALUE (or COMMAND user-property KEY VALUE), e.g. `-D publish message-expiry-interval 30`. Commands: connect, publish, disconnect, will (and subscribe/unsubscribe for sub). Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l cafile -d 'Path to a file of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l capath -d 'Path to a directory of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l cert -d 'Client certificate for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l key -d 'Client private key for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l keyform -d 'Key file type: only "pem" is supported ("engine" needs OpenSSL)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l ciphers -d 'OpenSSL-style list of TLS ciphers, mapped to the suites rustls offers' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l tls-version -d 'TLS protocol version: tlsv1.3 or tlsv1.2' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l tls-alpn -d 'TLS ALPN protocol' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l tls-engine -d 'Not supported (OpenSSL engines); accepted only to be rejected with a clear error' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l tls-engine-kpass-sha1 -d 'Not supported (OpenSSL engines)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l psk -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l psk-identity -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l tls-keylog -d 'Append the TLS session secrets to FILE (NSS key log format, created with mode 0600), so that Wireshark can decrypt the traffic. For debugging only. Without this flag, $SSLKEYLOGFILE names the file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l speed -d 'Playback speed: 0.5 is half speed, 10 ten times faster, `max` as fast as the broker takes the messages. Defaults to 1' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l loop -d 'Play the files N times (0: until interrupted). Defaults to 1' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l topic-prefix -d 'Put PREFIX before every topic (after --topic-map)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l topic-map -d 'Rewrite topics: a topic FROM, or starting with the levels FROM, gets TO in their place (`--topic-map prod=staging` turns prod/a into staging/a). May be repeated; the first that matches applies' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -s q -l qos -d 'Publish every message with this QoS instead of the recorded one' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l from -d 'Start at this point of the recording: a duration from its start (90, 1m30s, 250ms) or a UTC time (2024-05-01T12:00:00Z)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l to -d 'Stop after this point of the recording (as --from)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l options-file -d 'Read options from FILE instead of the default options file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -s V -l protocol-version -d 'MQTT protocol version: mqttv5 (5), mqttv311 (311) or mqttv31 (31). Defaults to mqttv5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -s c -l disable-clean-session -d 'Disable clean session/enable persistent client mode'
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l nodelay -d 'Disable Nagle\'s algorithm (always disabled in mqtk, which batches writes itself)'
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l mptcp -d 'Not supported (Multipath TCP); accepted only to be rejected with a clear error'
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l ws -d 'Connect using WebSockets'
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l will-retain -d 'Make the will retained'
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l insecure -d 'Do not check the server\'s host name against its certificate'
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l tls-use-os-certs -d 'Load and trust the operating system\'s CA certificates'
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l no-tls -d 'Never use TLS, even on port 8883'
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -s d -l debug -d 'Enable debug messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l quiet -d 'Don\'t print error messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l help -d 'Print help'
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l version -d 'Print the version'
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l no-retain -d 'Publish every message with the retain flag clear'
complete -c mqtk -n "__fish_mqtk_using_subcommand replay" -l skip-bad -d 'Skip the lines that are not valid record lines (each is reported), instead of refusing to replay a file that has any'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s h -l host -d 'MQTT host to connect to. Defaults to localhost' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s p -l port -d 'Network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s u -l username -d 'Provide a username' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s P -l pw -d 'Provide a password' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s k -l keepalive -d 'Keep alive in seconds for this client. Defaults to 60' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s V -l protocol-version -d 'MQTT protocol version: mqttv5 (5), mqttv311 (311) or mqttv31 (31). Defaults to mqttv311' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s A -d 'Bind the outgoing socket to this host/ip address' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l unix -d 'Connect through a unix domain socket instead of TCP' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l proxy -d 'SOCKS5 (socks5h://[user[:pass]@]host[:port]) or HTTP CONNECT (http://…) proxy' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l will-topic -d 'Topic of the client\'s will, sent by the broker on unexpected disconnection' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l will-payload -d 'Payload of the will (empty if not given)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l will-qos -d 'QoS of the will' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l cafile -d 'Path to a file of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l capath -d 'Path to a directory of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l cert -d 'Client certificate for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l key -d 'Client private key for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l keyform -d 'Key file type: only "pem" is supported ("engine" needs OpenSSL)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l ciphers -d 'OpenSSL-style list of TLS ciphers, mapped to the suites rustls offers' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l tls-version -d 'TLS protocol version: tlsv1.3 or tlsv1.2' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l tls-alpn -d 'TLS ALPN protocol' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l tls-engine -d 'Not supported (OpenSSL engines); accepted only to be rejected with a clear error' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l tls-engine-kpass-sha1 -d 'Not supported (OpenSSL engines)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l psk -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l psk-identity -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l tls-keylog -d 'Append the TLS session secrets to FILE (NSS key log format, created with mode 0600), so that Wireshark can decrypt the traffic. For debugging only. Without this flag, $SSLKEYLOGFILE names the file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s c -l clients -d 'Number of clients (publishers, subscribers or connections; in the default mode, this many of each)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l subscribers -d 'Default mode: number of subscribers, when it should differ from -c' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s n -l start-number -d 'Index of the first client (%i); give each process of a multi-process run its own range so that client ids and publisher ids stay unique' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l connect-rate -d 'New connections per second while ramping up (0: as fast as possible)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l connect-timeout -d 'Give up on a connection (TCP, TLS, CONNACK) after this many seconds' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l ifaddr -d 'Spread connections over these local source addresses, round-robin (bind before connect): each address has its own ephemeral port range' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s t -l topic -d 'Topic to publish to; subscriber k subscribes to publisher k\'s topic (k modulo the publishers). Placeholders: %i client index, %c client id, %u username, %rand_N a random number in 0..N (chosen once per client). Without -t, the --url topic, else mqtk/bench/%i' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s q -l qos -d 'Quality of service of publishes and subscriptions [default: 0]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s s -l size -d 'Payload size in bytes, at least 16 (publisher id, sequence and send timestamp), padded with zeros [default: 256]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l rate -d 'Total publish rate over all publishers, in messages per second (a fixed schedule: latency counts from when each message should have been sent)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s I -l interval -d 'Interval between one publisher\'s messages, in milliseconds (fractions allowed). Without --rate or -I, publishers send as fast as the connection takes them' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s L -l limit -d 'Total number of messages over all publishers' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l duration -d 'Stop publishing after this many seconds. Without -L or --duration, runs until interrupted (Ctrl-C or SIGTERM), then reports' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l warmup -d 'Leave the first SECONDS out of latency histograms and rates; must be shorter than --duration [default: 0]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l drain -d 'After publishing stops, wait up to SECONDS for acknowledgements and deliveries [default: 5]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l json -d 'Write the full report (settings, totals, per-second series, HDR histograms) as JSON' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l url -d 'User, password, host, port and topic as a URL: mqtt(s)://[username[:password]@]host[:port]/topic or ws(s)://…; its topic is used when -t is not given' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s M -l inflight -d 'QoS 1/2 messages in flight per publisher, capped by the broker\'s Receive Maximum in MQTT v5 [default: 20]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s x -d 'Session expiry interval (MQTT v5): 0-4294967294 seconds, or -1, 4294967295 or ∞ for a session that does not expire. Defaults to -1 with --disable-clean-session, else 0. Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s D -l property -d 'MQTT v5 property: COMMAND NAME VALUE (or COMMAND user-property KEY VALUE), e.g. `-D connect session-expiry-interval 60`. Commands: connect, publish (publishers), subscribe (subscribers), disconnect, will. Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s i -l id -d 'Client id template (placeholders as in -t); without %i the client index is appended. Defaults to mqtk-bench-PID-%i.' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l id-prefix -d 'Client ids are ID_PREFIX followed by the client index.' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s o -d 'Read options from FILE instead of the default options file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l nodelay -d 'Disable Nagle\'s algorithm (always disabled in mqtk, which batches writes itself)'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l mptcp -d 'Not supported (Multipath TCP); accepted only to be rejected with a clear error'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l ws -d 'Connect using WebSockets'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l will-retain -d 'Make the will retained'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l insecure -d 'Do not check the server\'s host name against its certificate'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l tls-use-os-certs -d 'Load and trust the operating system\'s CA certificates'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l no-tls -d 'Never use TLS, even on port 8883'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l help -d 'Print help'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l version -d 'Print the version'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s r -l retain -d 'Publish retained messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l disable-clean-session -d 'Disable clean session/enable persistent client mode'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -l quiet -d 'Hide the progress display (it is also hidden when stderr is not a terminal) and the line a first Ctrl-C or SIGTERM prints'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -s d -l debug -d 'Enable debug messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -f -a "pub" -d 'Publishers only: sent/s, and for QoS 1/2 acked/s with publish-to-ack latency'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -f -a "sub" -d 'Subscribers only: received/s and end-to-end latency from the payload\'s timestamp'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -f -a "conn" -d 'Open N connections at a rate and hold them: connect latency, rate, errors'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -f -a "merge" -d 'Combine JSON reports from several runs (machines, processes) into one, exactly'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and not __fish_seen_subcommand_from pub sub conn merge help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s h -l host -d 'MQTT host to connect to. Defaults to localhost' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s p -l port -d 'Network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s u -l username -d 'Provide a username' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s P -l pw -d 'Provide a password' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s k -l keepalive -d 'Keep alive in seconds for this client. Defaults to 60' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s V -l protocol-version -d 'MQTT protocol version: mqttv5 (5), mqttv311 (311) or mqttv31 (31). Defaults to mqttv311' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s A -d 'Bind the outgoing socket to this host/ip address' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l unix -d 'Connect through a unix domain socket instead of TCP' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l proxy -d 'SOCKS5 (socks5h://[user[:pass]@]host[:port]) or HTTP CONNECT (http://…) proxy' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l will-topic -d 'Topic of the client\'s will, sent by the broker on unexpected disconnection' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l will-payload -d 'Payload of the will (empty if not given)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l will-qos -d 'QoS of the will' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l cafile -d 'Path to a file of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l capath -d 'Path to a directory of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l cert -d 'Client certificate for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l key -d 'Client private key for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l keyform -d 'Key file type: only "pem" is supported ("engine" needs OpenSSL)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l ciphers -d 'OpenSSL-style list of TLS ciphers, mapped to the suites rustls offers' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l tls-version -d 'TLS protocol version: tlsv1.3 or tlsv1.2' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l tls-alpn -d 'TLS ALPN protocol' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l tls-engine -d 'Not supported (OpenSSL engines); accepted only to be rejected with a clear error' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l tls-engine-kpass-sha1 -d 'Not supported (OpenSSL engines)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l psk -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l psk-identity -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l tls-keylog -d 'Append the TLS session secrets to FILE (NSS key log format, created with mode 0600), so that Wireshark can decrypt the traffic. For debugging only. Without this flag, $SSLKEYLOGFILE names the file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s c -l clients -d 'Number of clients (publishers, subscribers or connections; in the default mode, this many of each)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l subscribers -d 'Default mode: number of subscribers, when it should differ from -c' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s n -l start-number -d 'Index of the first client (%i); give each process of a multi-process run its own range so that client ids and publisher ids stay unique' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l connect-rate -d 'New connections per second while ramping up (0: as fast as possible)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l connect-timeout -d 'Give up on a connection (TCP, TLS, CONNACK) after this many seconds' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l ifaddr -d 'Spread connections over these local source addresses, round-robin (bind before connect): each address has its own ephemeral port range' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s q -l qos -d 'Quality of service of publishes and subscriptions [default: 0]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s s -l size -d 'Payload size in bytes, at least 16 (publisher id, sequence and send timestamp), padded with zeros [default: 256]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l rate -d 'Total publish rate over all publishers, in messages per second (a fixed schedule: latency counts from when each message should have been sent)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s I -l interval -d 'Interval between one publisher\'s messages, in milliseconds (fractions allowed). Without --rate or -I, publishers send as fast as the connection takes them' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s L -l limit -d 'Total number of messages over all publishers' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l duration -d 'Stop publishing after this many seconds. Without -L or --duration, runs until interrupted (Ctrl-C or SIGTERM), then reports' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l warmup -d 'Leave the first SECONDS out of latency histograms and rates; must be shorter than --duration [default: 0]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l drain -d 'After publishing stops, wait up to SECONDS for acknowledgements and deliveries [default: 5]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l json -d 'Write the full report (settings, totals, per-second series, HDR histograms) as JSON' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l url -d 'User, password, host, port and topic as a URL: mqtt(s)://[username[:password]@]host[:port]/topic or ws(s)://…; its topic is used when -t is not given' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s M -l inflight -d 'QoS 1/2 messages in flight per publisher, capped by the broker\'s Receive Maximum in MQTT v5 [default: 20]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s x -d 'Session expiry interval (MQTT v5): 0-4294967294 seconds, or -1, 4294967295 or ∞ for a session that does not expire. Defaults to -1 with --disable-clean-session, else 0. Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s i -l id -d 'Client id template (placeholders as in -t); without %i the client index is appended. Defaults to mqtk-bench-PID-%i.' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l id-prefix -d 'Client ids are ID_PREFIX followed by the client index.' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s o -d 'Read options from FILE instead of the default options file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s D -l property -d 'MQTT v5 property: COMMAND NAME VALUE (or COMMAND user-property KEY VALUE), e.g. `-D connect session-expiry-interval 60`. Commands: connect, publish, disconnect, will. Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s t -l topic -d 'Topic to publish to. Placeholders: %i client index, %c client id, %u username, %rand_N a random number in 0..N (chosen once per client). Without -t, the --url topic, else mqtk/bench/%i' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l nodelay -d 'Disable Nagle\'s algorithm (always disabled in mqtk, which batches writes itself)'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l mptcp -d 'Not supported (Multipath TCP); accepted only to be rejected with a clear error'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l ws -d 'Connect using WebSockets'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l will-retain -d 'Make the will retained'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l insecure -d 'Do not check the server\'s host name against its certificate'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l tls-use-os-certs -d 'Load and trust the operating system\'s CA certificates'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l no-tls -d 'Never use TLS, even on port 8883'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l help -d 'Print help'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l version -d 'Print the version'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s r -l retain -d 'Publish retained messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l disable-clean-session -d 'Disable clean session/enable persistent client mode'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -l quiet -d 'Hide the progress display (it is also hidden when stderr is not a terminal) and the line a first Ctrl-C or SIGTERM prints'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from pub" -s d -l debug -d 'Enable debug messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s h -l host -d 'MQTT host to connect to. Defaults to localhost' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s p -l port -d 'Network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s u -l username -d 'Provide a username' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s P -l pw -d 'Provide a password' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s k -l keepalive -d 'Keep alive in seconds for this client. Defaults to 60' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s V -l protocol-version -d 'MQTT protocol version: mqttv5 (5), mqttv311 (311) or mqttv31 (31). Defaults to mqttv311' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s A -d 'Bind the outgoing socket to this host/ip address' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l unix -d 'Connect through a unix domain socket instead of TCP' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l proxy -d 'SOCKS5 (socks5h://[user[:pass]@]host[:port]) or HTTP CONNECT (http://…) proxy' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l will-topic -d 'Topic of the client\'s will, sent by the broker on unexpected disconnection' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l will-payload -d 'Payload of the will (empty if not given)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l will-qos -d 'QoS of the will' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l cafile -d 'Path to a file of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l capath -d 'Path to a directory of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l cert -d 'Client certificate for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l key -d 'Client private key for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l keyform -d 'Key file type: only "pem" is supported ("engine" needs OpenSSL)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l ciphers -d 'OpenSSL-style list of TLS ciphers, mapped to the suites rustls offers' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l tls-version -d 'TLS protocol version: tlsv1.3 or tlsv1.2' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l tls-alpn -d 'TLS ALPN protocol' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l tls-engine -d 'Not supported (OpenSSL engines); accepted only to be rejected with a clear error' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l tls-engine-kpass-sha1 -d 'Not supported (OpenSSL engines)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l psk -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l psk-identity -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l tls-keylog -d 'Append the TLS session secrets to FILE (NSS key log format, created with mode 0600), so that Wireshark can decrypt the traffic. For debugging only. Without this flag, $SSLKEYLOGFILE names the file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l subscribers -d 'Default mode: number of subscribers, when it should differ from -c' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s n -l start-number -d 'Index of the first client (%i); give each process of a multi-process run its own range so that client ids and publisher ids stay unique' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l connect-rate -d 'New connections per second while ramping up (0: as fast as possible)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l connect-timeout -d 'Give up on a connection (TCP, TLS, CONNACK) after this many seconds' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l ifaddr -d 'Spread connections over these local source addresses, round-robin (bind before connect): each address has its own ephemeral port range' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s s -l size -d 'Payload size in bytes, at least 16 (publisher id, sequence and send timestamp), padded with zeros [default: 256]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l rate -d 'Total publish rate over all publishers, in messages per second (a fixed schedule: latency counts from when each message should have been sent)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s I -l interval -d 'Interval between one publisher\'s messages, in milliseconds (fractions allowed). Without --rate or -I, publishers send as fast as the connection takes them' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l drain -d 'After publishing stops, wait up to SECONDS for acknowledgements and deliveries [default: 5]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l json -d 'Write the full report (settings, totals, per-second series, HDR histograms) as JSON' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l url -d 'User, password, host, port and topic as a URL: mqtt(s)://[username[:password]@]host[:port]/topic or ws(s)://…; its topic is used when -t is not given' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s M -l inflight -d 'QoS 1/2 messages in flight per publisher, capped by the broker\'s Receive Maximum in MQTT v5 [default: 20]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s x -d 'Session expiry interval (MQTT v5): 0-4294967294 seconds, or -1, 4294967295 or ∞ for a session that does not expire. Defaults to -1 with --disable-clean-session, else 0. Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s i -l id -d 'Client id template (placeholders as in -t); without %i the client index is appended. Defaults to mqtk-bench-PID-%i.' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l id-prefix -d 'Client ids are ID_PREFIX followed by the client index.' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s o -d 'Read options from FILE instead of the default options file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s D -l property -d 'MQTT v5 property: COMMAND NAME VALUE (or COMMAND user-property KEY VALUE), e.g. `-D connect session-expiry-interval 60`. Commands: connect, subscribe, disconnect, will. Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s c -l clients -d 'Number of subscribers' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s t -l topic -d 'Topic filter to subscribe to. Placeholders: %i client index, %c client id, %u username, %rand_N a random number in 0..N (chosen once per client). Without -t, the --url topic, else mqtk/bench/%i' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s q -l qos -d 'Quality of service of the subscriptions [default: 0]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s L -l limit -d 'Stop once the subscribers have received N messages in all' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l duration -d 'Stop after this many seconds. Without -L or --duration, runs until interrupted (Ctrl-C or SIGTERM), then reports' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l warmup -d 'Leave the first SECONDS out of latency histograms and rates; must be shorter than --duration [default: 0]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l nodelay -d 'Disable Nagle\'s algorithm (always disabled in mqtk, which batches writes itself)'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l mptcp -d 'Not supported (Multipath TCP); accepted only to be rejected with a clear error'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l ws -d 'Connect using WebSockets'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l will-retain -d 'Make the will retained'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l insecure -d 'Do not check the server\'s host name against its certificate'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l tls-use-os-certs -d 'Load and trust the operating system\'s CA certificates'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l no-tls -d 'Never use TLS, even on port 8883'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l help -d 'Print help'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l version -d 'Print the version'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s r -l retain -d 'Publish retained messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l disable-clean-session -d 'Disable clean session/enable persistent client mode'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -l quiet -d 'Hide the progress display (it is also hidden when stderr is not a terminal) and the line a first Ctrl-C or SIGTERM prints'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from sub" -s d -l debug -d 'Enable debug messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s h -l host -d 'MQTT host to connect to. Defaults to localhost' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s p -l port -d 'Network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s u -l username -d 'Provide a username' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s P -l pw -d 'Provide a password' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s k -l keepalive -d 'Keep alive in seconds for this client. Defaults to 60' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s V -l protocol-version -d 'MQTT protocol version: mqttv5 (5), mqttv311 (311) or mqttv31 (31). Defaults to mqttv311' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s A -d 'Bind the outgoing socket to this host/ip address' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l unix -d 'Connect through a unix domain socket instead of TCP' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l proxy -d 'SOCKS5 (socks5h://[user[:pass]@]host[:port]) or HTTP CONNECT (http://…) proxy' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l will-topic -d 'Topic of the client\'s will, sent by the broker on unexpected disconnection' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l will-payload -d 'Payload of the will (empty if not given)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l will-qos -d 'QoS of the will' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l cafile -d 'Path to a file of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l capath -d 'Path to a directory of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l cert -d 'Client certificate for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l key -d 'Client private key for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l keyform -d 'Key file type: only "pem" is supported ("engine" needs OpenSSL)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l ciphers -d 'OpenSSL-style list of TLS ciphers, mapped to the suites rustls offers' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l tls-version -d 'TLS protocol version: tlsv1.3 or tlsv1.2' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l tls-alpn -d 'TLS ALPN protocol' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l tls-engine -d 'Not supported (OpenSSL engines); accepted only to be rejected with a clear error' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l tls-engine-kpass-sha1 -d 'Not supported (OpenSSL engines)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l psk -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l psk-identity -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l tls-keylog -d 'Append the TLS session secrets to FILE (NSS key log format, created with mode 0600), so that Wireshark can decrypt the traffic. For debugging only. Without this flag, $SSLKEYLOGFILE names the file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l subscribers -d 'Default mode: number of subscribers, when it should differ from -c' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s n -l start-number -d 'Index of the first client (%i); give each process of a multi-process run its own range so that client ids and publisher ids stay unique' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l connect-rate -d 'New connections per second while ramping up (0: as fast as possible)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l connect-timeout -d 'Give up on a connection (TCP, TLS, CONNACK) after this many seconds' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l ifaddr -d 'Spread connections over these local source addresses, round-robin (bind before connect): each address has its own ephemeral port range' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s t -l topic -d 'Topic to publish to; subscriber k subscribes to publisher k\'s topic (k modulo the publishers). Placeholders: %i client index, %c client id, %u username, %rand_N a random number in 0..N (chosen once per client). Without -t, the --url topic, else mqtk/bench/%i' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s q -l qos -d 'Quality of service of publishes and subscriptions [default: 0]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s s -l size -d 'Payload size in bytes, at least 16 (publisher id, sequence and send timestamp), padded with zeros [default: 256]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l rate -d 'Total publish rate over all publishers, in messages per second (a fixed schedule: latency counts from when each message should have been sent)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s I -l interval -d 'Interval between one publisher\'s messages, in milliseconds (fractions allowed). Without --rate or -I, publishers send as fast as the connection takes them' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s L -l limit -d 'Total number of messages over all publishers' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l warmup -d 'Leave the first SECONDS out of latency histograms and rates; must be shorter than --duration [default: 0]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l drain -d 'After publishing stops, wait up to SECONDS for acknowledgements and deliveries [default: 5]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l json -d 'Write the full report (settings, totals, per-second series, HDR histograms) as JSON' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s M -l inflight -d 'QoS 1/2 messages in flight per publisher, capped by the broker\'s Receive Maximum in MQTT v5 [default: 20]' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s x -d 'Session expiry interval (MQTT v5): 0-4294967294 seconds, or -1, 4294967295 or ∞ for a session that does not expire. Defaults to -1 with --disable-clean-session, else 0. Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s i -l id -d 'Client id template (placeholders as in -t); without %i the client index is appended. Defaults to mqtk-bench-PID-%i.' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l id-prefix -d 'Client ids are ID_PREFIX followed by the client index.' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s o -d 'Read options from FILE instead of the default options file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s D -l property -d 'MQTT v5 property: COMMAND NAME VALUE (or COMMAND user-property KEY VALUE), e.g. `-D connect session-expiry-interval 60`. Commands: connect, disconnect, will. Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l url -d 'User, password, host and port as a URL: mqtt(s)://[username[:password]@]host[:port]/topic or ws(s)://… (the topic is not used)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s c -l clients -d 'Number of connections' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l duration -d 'Hold the connections for this many seconds once they are made. Without --duration, holds them until interrupted (Ctrl-C or SIGTERM), then reports' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l nodelay -d 'Disable Nagle\'s algorithm (always disabled in mqtk, which batches writes itself)'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l mptcp -d 'Not supported (Multipath TCP); accepted only to be rejected with a clear error'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l ws -d 'Connect using WebSockets'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l will-retain -d 'Make the will retained'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l insecure -d 'Do not check the server\'s host name against its certificate'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l tls-use-os-certs -d 'Load and trust the operating system\'s CA certificates'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l no-tls -d 'Never use TLS, even on port 8883'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l help -d 'Print help'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l version -d 'Print the version'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s r -l retain -d 'Publish retained messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l disable-clean-session -d 'Disable clean session/enable persistent client mode'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -l quiet -d 'Hide the progress display (it is also hidden when stderr is not a terminal) and the line a first Ctrl-C or SIGTERM prints'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from conn" -s d -l debug -d 'Enable debug messages'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from merge" -l json -d 'Write the merged report as JSON too' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from merge" -s h -l help -d 'Print help (`bench` turns clap\'s own help flag off, since `-h` is the host)'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from help" -f -a "pub" -d 'Publishers only: sent/s, and for QoS 1/2 acked/s with publish-to-ack latency'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from help" -f -a "sub" -d 'Subscribers only: received/s and end-to-end latency from the payload\'s timestamp'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from help" -f -a "conn" -d 'Open N connections at a rate and hold them: connect latency, rate, errors'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from help" -f -a "merge" -d 'Combine JSON reports from several runs (machines, processes) into one, exactly'
complete -c mqtk -n "__fish_mqtk_using_subcommand bench; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -s h -l host -d 'MQTT host to connect to. Defaults to localhost' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -s p -l port -d 'Network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -s u -l username -d 'Provide a username' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -s P -l pw -d 'Provide a password' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -s A -d 'Bind the outgoing socket to this host/ip address' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l unix -d 'Connect through a unix domain socket instead of TCP' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l proxy -d 'SOCKS5 (socks5h://[user[:pass]@]host[:port]) or HTTP CONNECT (http://…) proxy' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l cafile -d 'Path to a file of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l capath -d 'Path to a directory of trusted CA certificates (enables TLS)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l cert -d 'Client certificate for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l key -d 'Client private key for authentication' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l keyform -d 'Key file type: only "pem" is supported ("engine" needs OpenSSL)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l ciphers -d 'OpenSSL-style list of TLS ciphers, mapped to the suites rustls offers' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l tls-version -d 'TLS protocol version: tlsv1.3 or tlsv1.2' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l tls-alpn -d 'TLS ALPN protocol' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l tls-engine -d 'Not supported (OpenSSL engines); accepted only to be rejected with a clear error' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l tls-engine-kpass-sha1 -d 'Not supported (OpenSSL engines)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l psk -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l psk-identity -d 'Not supported (rustls has no TLS-PSK)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l tls-keylog -d 'Append the TLS session secrets to FILE (NSS key log format, created with mode 0600), so that Wireshark can decrypt the traffic. For debugging only. Without this flag, $SSLKEYLOGFILE names the file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l json -d 'Write the report as JSON to FILE, or to standard output with `-` (then no table is printed)' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l only -d 'Run only these probes (see --list)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l skip -d 'Run every probe but these' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l timeout -d 'How long to wait for each answer of the broker (CONNACK, SUBACK, an ack, a message), in seconds; a probe kept waiting longer is reported as timed out' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l max-payload -d 'The largest payload max-payload tries, in bytes (a polite ceiling)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -s i -l id -d 'Id to use for this client. Defaults to an empty id (the broker assigns one); MQTT 3.1 gets a random `mosq-…` id' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -s x -d 'Session expiry interval (MQTT v5): 0-4294967294 seconds, or -1, 4294967295 or ∞ for a session that does not expire. Defaults to -1 with -c, else 0. Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -s M -d 'The maximum number of QoS 1/2 messages in flight. Defaults to the broker\'s receive maximum (MQTT v5), else 65535; at most 1 MiB of payload is ever unacknowledged' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l will-topic -d 'Topic of the client\'s will, sent by the broker on unexpected disconnection' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l will-payload -d 'Payload of the will (empty if not given)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l will-qos -d 'QoS of the will' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -s o -d 'Read options from FILE instead of the default options file' -r -F
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -s I -l id-prefix -d 'Client ids start with ID_PREFIX (default mqtk-check-), followed by a random tag and a number per connection' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -s k -l keepalive -d 'Keep alive in seconds of the probes\' connections. Defaults to 60' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -s V -l protocol-version -d 'Run the behaviour and limit probes with this MQTT version: mqttv5 (5), mqttv311 (311) or mqttv31 (31). Defaults to the newest the broker accepts' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -s D -l property -d 'MQTT v5 CONNECT property for every connection: connect NAME VALUE (or connect user-property KEY VALUE). Implies -V 5' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -s L -l url -d 'Host, port, user and password as a URL: mqtt(s)://[username[:password]@]host[:port] or ws(s)://… (without a topic: check publishes under its own prefix)' -r
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l nodelay -d 'Disable Nagle\'s algorithm (always disabled in mqtk, which batches writes itself)'
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l mptcp -d 'Not supported (Multipath TCP); accepted only to be rejected with a clear error'
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l ws -d 'Connect using WebSockets'
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l insecure -d 'Do not check the server\'s host name against its certificate'
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l tls-use-os-certs -d 'Load and trust the operating system\'s CA certificates'
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l no-tls -d 'Never use TLS, even on port 8883'
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l help -d 'Print help'
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l version -d 'Print the version'
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l list -d 'List the probes and what each does, then exit'
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -s c -l disable-clean-session -d 'Disable clean session/enable persistent client mode'
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l will-retain -d 'Make the will retained'
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -s d -l debug -d 'Log every packet of every probe on stderr'
complete -c mqtk -n "__fish_mqtk_using_subcommand check" -l quiet -d 'Don\'t print error messages (the report is still printed)'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and not __fish_seen_subcommand_from broker passwd pub sub rr record replay bench check help" -f -a "broker" -d 'Run the embedded MQTT broker'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and not __fish_seen_subcommand_from broker passwd pub sub rr record replay bench check help" -f -a "passwd" -d 'Manage password files (mosquitto_passwd)'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and not __fish_seen_subcommand_from broker passwd pub sub rr record replay bench check help" -f -a "pub" -d 'Publish messages (mosquitto_pub)'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and not __fish_seen_subcommand_from broker passwd pub sub rr record replay bench check help" -f -a "sub" -d 'Subscribe and print messages (mosquitto_sub)'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and not __fish_seen_subcommand_from broker passwd pub sub rr record replay bench check help" -f -a "rr" -d 'Publish a request and wait for the response (mosquitto_rr)'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and not __fish_seen_subcommand_from broker passwd pub sub rr record replay bench check help" -f -a "record" -d 'Record messages to a file (NDJSON) with their timing, flags and properties'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and not __fish_seen_subcommand_from broker passwd pub sub rr record replay bench check help" -f -a "replay" -d 'Publish recorded messages again, in their order and with their timing'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and not __fish_seen_subcommand_from broker passwd pub sub rr record replay bench check help" -f -a "bench" -d 'Load-test a broker: publishers and subscribers (default), or `pub`, `sub`, `conn`; `merge` combines reports'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and not __fish_seen_subcommand_from broker passwd pub sub rr record replay bench check help" -f -a "check" -d 'Probe a broker: which MQTT versions and features it supports, and where its limits are'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and not __fish_seen_subcommand_from broker passwd pub sub rr record replay bench check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and __fish_seen_subcommand_from bench" -f -a "pub" -d 'Publishers only: sent/s, and for QoS 1/2 acked/s with publish-to-ack latency'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and __fish_seen_subcommand_from bench" -f -a "sub" -d 'Subscribers only: received/s and end-to-end latency from the payload\'s timestamp'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and __fish_seen_subcommand_from bench" -f -a "conn" -d 'Open N connections at a rate and hold them: connect latency, rate, errors'
complete -c mqtk -n "__fish_mqtk_using_subcommand help; and __fish_seen_subcommand_from bench" -f -a "merge" -d 'Combine JSON reports from several runs (machines, processes) into one, exactly'
