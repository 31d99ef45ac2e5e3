using System.CommandLine;
using System.Text;

namespace EdgeSelector.Cli.Infrastructure;

/// <summary>
/// The bundle key and the admin token: read from a file (<c>--key-file</c>, <c>--token-file</c>) or the environment
/// (<c>EDGESEL_BUNDLE_KEY</c>, <c>EDGESEL_ADMIN_TOKEN</c>), never from the command line, where other users of the
/// machine could read them in the process list. The value is the file's text without surrounding whitespace, as
/// UTF-8 — the same bytes the server takes from <c>EdgeSelector:BundleKey</c> / <c>AdminToken</c>.
/// </summary>
internal static class Secrets
{
    public const string KeyEnvironment = "EDGESEL_BUNDLE_KEY";
    public const string TokenEnvironment = "EDGESEL_ADMIN_TOKEN";

    public static byte[] BundleKey(ParseResult parse, Option<string> keyFile) =>
        Read(parse.GetValue(keyFile), KeyEnvironment, "bundle key", keyFile.Name);

    public static string AdminToken(ParseResult parse, Option<string> tokenFile) =>
        Encoding.UTF8.GetString(Read(parse.GetValue(tokenFile), TokenEnvironment, "admin token", tokenFile.Name));

    private static byte[] Read(string? file, string environment, string what, string option)
    {
        var text = file is not null
            ? File.ReadAllText(InputFiles.Require(file, $"{option}, the {what}"))
            : Environment.GetEnvironmentVariable(environment);
        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            throw new UsageException(file is null
                ? $"no {what}: give {option} FILE or set {environment}."
                : $"{file}: the {what} file is empty.");
        }

        return Encoding.UTF8.GetBytes(text);
    }
}

/// <summary>Input files and directories that must exist: a clear exit-1 message naming the path and what it is for.</summary>
internal static class InputFiles
{
    /// <summary>Returns <paramref name="path"/> when it is a file; throws a message naming it otherwise.</summary>
    public static string Require(string path, string what) =>
        File.Exists(path) ? path
        : Directory.Exists(path) ? throw new CommandInputException($"{path}: is a directory, expected a file ({what}).")
        : throw new CommandInputException($"{path}: file not found ({what}).");

    /// <summary>Returns <paramref name="path"/> when it is a file or a directory; throws a message naming it otherwise.</summary>
    public static string RequireFileOrDirectory(string path, string what) =>
        File.Exists(path) || Directory.Exists(path) ? path : throw new CommandInputException($"{path}: file or directory not found ({what}).");

    /// <summary>Returns <paramref name="path"/> when it is a directory; throws a message naming it otherwise.</summary>
    public static string RequireDirectory(string path, string what) =>
        Directory.Exists(path) ? path : throw new CommandInputException($"{path}: directory not found ({what}).");
}
