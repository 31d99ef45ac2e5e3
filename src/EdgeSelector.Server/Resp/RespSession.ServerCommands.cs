using EdgeSelector.Protocol.Resp;

namespace EdgeSelector.Server.Resp;

/// <summary>The connection and server commands: PING, HELLO (docs/resp.md).</summary>
internal sealed partial class RespSession
{
    // PING [message] -> +PONG, or the message as a bulk string
    private void Ping(ReadOnlySpan<byte> command, int argc)
    {
        if (argc > 1)
        {
            RespWriter.WriteBulkString(_output, Arg(command, 1));
        }
        else
        {
            RespWriter.WriteSimpleString(_output, "PONG"u8);
        }
    }

    // HELLO [2] -> the server map as a flat array (RESP2 has no map type); any other version -> NOPROTO
    private void Hello(ReadOnlySpan<byte> command, int argc)
    {
        if (argc > 1 && !Arg(command, 1).SequenceEqual("2"u8))
        {
            RespWriter.WriteError(_output, "NOPROTO sorry, this protocol version is not supported"u8);
            return;
        }

        RespWriter.WriteArrayHeader(_output, 14);
        RespWriter.WriteBulkString(_output, "server"u8);
        RespWriter.WriteBulkString(_output, "edgeselector"u8);
        RespWriter.WriteBulkString(_output, "version"u8);
        RespWriter.WriteBulkString(_output, "1.0.0"u8);
        RespWriter.WriteBulkString(_output, "proto"u8);
        RespWriter.WriteInteger(_output, 2);
        RespWriter.WriteBulkString(_output, "id"u8);
        RespWriter.WriteInteger(_output, 1);
        RespWriter.WriteBulkString(_output, "mode"u8);
        RespWriter.WriteBulkString(_output, "standalone"u8);
        RespWriter.WriteBulkString(_output, "role"u8);
        RespWriter.WriteBulkString(_output, "master"u8);
        RespWriter.WriteBulkString(_output, "modules"u8);
        RespWriter.WriteArrayHeader(_output, 0);
    }
}
