using System.Buffers.Binary;
using System.Text;

namespace EdgeSelector.Server.Resp;

/// <summary>The commands of the RESP front door (docs/resp.md), parsed once from the command name.</summary>
internal enum RespCommand : byte
{
    /// <summary>Anything else: <c>-ERR unknown command</c>.</summary>
    Unknown = 0,
    Get,
    ArtSelect,
    ArtPage,
    Ping,
    Hello,
    Command,
    Config,
    Client,
    Select,
    Quit,
    Info,
    Echo,
    Auth,
    Cluster,
}

/// <summary>
/// The subcommands of CLIENT, CONFIG and COMMAND (docs/resp.md), and the section names of INFO. Connection set-up and
/// introspection only, never a serving command: matched with a chain of case-insensitive comparisons.
/// </summary>
internal enum RespSubcommand : byte
{
    Unknown = 0,
    SetName,
    GetName,
    SetInfo,
    Id,
    Info,
    Get,
    Set,
    ResetStat,
    Docs,
    Count,
    List,
    Help,
}

/// <summary>The optional fields of <c>ART.SELECT</c>.</summary>
internal enum RespSelectField : byte
{
    Unknown = 0,
    Country,
    Language,
    Device,
    Hour,
    Dow,
    WithMeta,
}

/// <summary>
/// Names to enums without comparing strings one by one (Garnet's <c>RespCommand</c> parsing shape): the name is
/// upper-cased into a 16-byte register, then one switch on its length and one or two integer comparisons decide.
/// </summary>
internal static class RespNames
{
    private static readonly ulong GetWord = Word("GET");
    private static readonly ulong PingWord = Word("PING");
    private static readonly ulong InfoWord = Word("INFO");
    private static readonly ulong EchoWord = Word("ECHO");
    private static readonly ulong AuthWord = Word("AUTH");
    private static readonly ulong ClusterWord = Word("CLUSTER");
    private static readonly ulong QuitWord = Word("QUIT");
    private static readonly ulong HelloWord = Word("HELLO");
    private static readonly ulong ConfigWord = Word("CONFIG");
    private static readonly ulong ClientWord = Word("CLIENT");
    private static readonly ulong SelectWord = Word("SELECT");
    private static readonly ulong CommandWord = Word("COMMAND");
    private static readonly ulong ArtPageWord = Word("ART.PAGE");
    private static readonly ulong ArtSelectHead = Word("ART.SELE");
    private static readonly ulong ArtSelectTail = Word("CT");
    private static readonly ulong HourWord = Word("HOUR");
    private static readonly ulong DowWord = Word("DOW");
    private static readonly ulong CountryWord = Word("COUNTRY");
    private static readonly ulong LanguageWord = Word("LANGUAGE");
    private static readonly ulong DeviceWord = Word("DEVICE");
    private static readonly ulong WithMetaWord = Word("WITHMETA");

    /// <summary>The command a name stands for (any letter case).</summary>
    public static RespCommand Command(ReadOnlySpan<byte> name)
    {
        if (!TryUpper(name, out var head, out var tail))
        {
            return RespCommand.Unknown;
        }

        return name.Length switch
        {
            3 when head == GetWord => RespCommand.Get,
            4 when head == PingWord => RespCommand.Ping,
            4 when head == QuitWord => RespCommand.Quit,
            4 when head == InfoWord => RespCommand.Info,
            4 when head == EchoWord => RespCommand.Echo,
            4 when head == AuthWord => RespCommand.Auth,
            5 when head == HelloWord => RespCommand.Hello,
            6 when head == ConfigWord => RespCommand.Config,
            6 when head == ClientWord => RespCommand.Client,
            6 when head == SelectWord => RespCommand.Select,
            7 when head == CommandWord => RespCommand.Command,
            7 when head == ClusterWord => RespCommand.Cluster,
            8 when head == ArtPageWord => RespCommand.ArtPage,
            10 when head == ArtSelectHead && tail == ArtSelectTail => RespCommand.ArtSelect,
            _ => RespCommand.Unknown,
        };
    }

    /// <summary>The subcommand a name stands for (any letter case).</summary>
    public static RespSubcommand Subcommand(ReadOnlySpan<byte> name) =>
        Ascii.EqualsIgnoreCase(name, "SETNAME"u8) ? RespSubcommand.SetName
        : Ascii.EqualsIgnoreCase(name, "GETNAME"u8) ? RespSubcommand.GetName
        : Ascii.EqualsIgnoreCase(name, "SETINFO"u8) ? RespSubcommand.SetInfo
        : Ascii.EqualsIgnoreCase(name, "ID"u8) ? RespSubcommand.Id
        : Ascii.EqualsIgnoreCase(name, "INFO"u8) ? RespSubcommand.Info
        : Ascii.EqualsIgnoreCase(name, "GET"u8) ? RespSubcommand.Get
        : Ascii.EqualsIgnoreCase(name, "SET"u8) ? RespSubcommand.Set
        : Ascii.EqualsIgnoreCase(name, "RESETSTAT"u8) ? RespSubcommand.ResetStat
        : Ascii.EqualsIgnoreCase(name, "DOCS"u8) ? RespSubcommand.Docs
        : Ascii.EqualsIgnoreCase(name, "COUNT"u8) ? RespSubcommand.Count
        : Ascii.EqualsIgnoreCase(name, "LIST"u8) ? RespSubcommand.List
        : Ascii.EqualsIgnoreCase(name, "HELP"u8) ? RespSubcommand.Help
        : RespSubcommand.Unknown;

    /// <summary>The <c>ART.SELECT</c> field a name stands for (any letter case).</summary>
    public static RespSelectField SelectField(ReadOnlySpan<byte> name)
    {
        if (!TryUpper(name, out var head, out _))
        {
            return RespSelectField.Unknown;
        }

        return name.Length switch
        {
            3 when head == DowWord => RespSelectField.Dow,
            4 when head == HourWord => RespSelectField.Hour,
            6 when head == DeviceWord => RespSelectField.Device,
            7 when head == CountryWord => RespSelectField.Country,
            8 when head == LanguageWord => RespSelectField.Language,
            8 when head == WithMetaWord => RespSelectField.WithMeta,
            _ => RespSelectField.Unknown,
        };
    }

    // The name upper-cased and zero-padded to 16 bytes, read as two little-endian words.
    private static bool TryUpper(ReadOnlySpan<byte> name, out ulong head, out ulong tail)
    {
        head = tail = 0;
        if (name.IsEmpty || name.Length > 16)
        {
            return false;
        }

        Span<byte> upper = stackalloc byte[16];
        upper.Clear();
        if (Ascii.ToUpper(name, upper, out _) != System.Buffers.OperationStatus.Done)
        {
            return false;
        }

        head = BinaryPrimitives.ReadUInt64LittleEndian(upper);
        tail = BinaryPrimitives.ReadUInt64LittleEndian(upper[8..]);
        return true;
    }

    private static ulong Word(string name)
    {
        Span<byte> bytes = stackalloc byte[8];
        bytes.Clear();
        Encoding.ASCII.GetBytes(name, bytes);
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }
}
