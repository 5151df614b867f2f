/* The eleven states of a TCP connection (RFC 9293 section 3.3.2, figure 5).

                             +---------+ ---------\      active OPEN
                             |  CLOSED |            \    -----------
                             +---------+<---------\   \   create TCB
                               |     ^              \   \  snd SYN
                  passive OPEN |     |   CLOSE        \   \
                  ------------ |     | ----------       \   \
                   create TCB  |     | delete TCB         \   \
                               V     |                      \   \
           rcv RST (note 1)  +---------+            CLOSE    |    \
        -------------------->|  LISTEN |          ---------- |     |
       /                     +---------+          delete TCB |     |
      /           rcv SYN      |     |     SEND              |     |
     /           -----------   |     |    -------            |     V
 +--------+      snd SYN,ACK  /       \   snd SYN          +--------+
 |        |<-----------------           ------------------>|        |
 |  SYN   |                    rcv SYN                     |  SYN   |
 |  RCVD  |<-----------------------------------------------|  SENT  |
 |        |                  snd SYN,ACK                   |        |
 |        |------------------           -------------------|        |
 +--------+   rcv ACK of SYN  \       /  rcv SYN,ACK       +--------+
    |         --------------   |     |   -----------
    |                x         |     |     snd ACK
    |                          V     V
    |  CLOSE                 +---------+
    | -------                |  ESTAB  |
    | snd FIN                +---------+
    |                 CLOSE    |     |    rcv FIN
    V                -------   |     |    -------
 +---------+         snd FIN  /       \   snd ACK         +---------+
 |  FIN    |<----------------          ------------------>|  CLOSE  |
 | WAIT-1  |------------------                            |   WAIT  |
 +---------+          rcv FIN  \                          +---------+
   | rcv ACK of FIN   -------   |                          CLOSE  |
   | --------------   snd ACK   |                         ------- |
   V        x                   V                         snd FIN V
 +---------+               +---------+                    +---------+
 |FINWAIT-2|               | CLOSING |                    | LAST-ACK|
 +---------+               +---------+                    +---------+
   |              rcv ACK of FIN |                 rcv ACK of FIN |
   |  rcv FIN     -------------- |    Timeout=2MSL -------------- |
   |  -------            x       V    ------------        x       V
    \ snd ACK              +---------+delete TCB          +---------+
      -------------------->|TIME-WAIT|------------------->| CLOSED  |
                           +---------+                    +---------+
*/
#pragma once

namespace tcpip {

enum class TcpState {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
};

constexpr const char* to_string(TcpState state) {
    switch (state) {
        case TcpState::Closed: return "CLOSED";
        case TcpState::Listen: return "LISTEN";
        case TcpState::SynSent: return "SYN-SENT";
        case TcpState::SynReceived: return "SYN-RECEIVED";
        case TcpState::Established: return "ESTABLISHED";
        case TcpState::FinWait1: return "FIN-WAIT-1";
        case TcpState::FinWait2: return "FIN-WAIT-2";
        case TcpState::CloseWait: return "CLOSE-WAIT";
        case TcpState::Closing: return "CLOSING";
        case TcpState::LastAck: return "LAST-ACK";
        case TcpState::TimeWait: return "TIME-WAIT";
    }
    return "?";
}

// RFC 9293 section 3.3.2: "synchronized" states are those after the handshake.
constexpr bool is_synchronized(TcpState s) {
    return s != TcpState::Closed && s != TcpState::Listen && s != TcpState::SynSent && s != TcpState::SynReceived;
}

}  // namespace tcpip
