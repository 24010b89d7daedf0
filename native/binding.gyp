{
  "targets": [
    {
      "target_name": "roamd_native",
      "sources": [
        "src/addon.c",
        "src/arp.c",
        "src/args.c",
        "src/caps.c",
        "src/errors.c",
        "src/handle.c",
        "src/raw.c",
        "src/tun.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
