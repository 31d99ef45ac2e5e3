namespace EdgeSelector.Storage.Tests;

internal static class ImpressionLogCrashHelper
{
    public const string Verb = "impression-log-crash-helper";

    public static int Run(string directory) => throw new NotImplementedException(directory);
}
