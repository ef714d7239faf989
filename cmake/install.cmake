# install.cmake — libvactor as a user installs it, and what `cmake --install`
# (make install) puts under the prefix:
#   include/vactor.h, vactor_loop.h, vactor_route.h   the public headers
#   lib/libvactor.a                                   static
#   lib/libvactor.so.MAJOR.MINOR.PATCH                SONAME libvactor.so.MAJOR
#   lib/pkgconfig/vactor.pc                           pkg-config
#   lib/cmake/vactor/                                 find_package(vactor)
#   bin/vactord, share/man/man1/vactord.1
# (lib is CMAKE_INSTALL_LIBDIR: lib/x86_64-linux-gnu under /usr on Debian.)
#
# The in-tree libraries stay as they are (tests, vactord and the benchmarks
# link the static targets). The installed libvactor is made of the objects
# of VA_LIBVACTOR_PARTS, compiled once: the in-tree libvactor.a of src/core
# holds only src/core's objects and links src/store's library, which a user
# of the installed library would lack. A part added to libvactor (a new
# static library that `vactor` links) goes in this list; the .so is linked
# with --no-undefined, so a missing part fails the build.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(VA_LIBVACTOR_PARTS vactor vactor_store)
set(VA_LIBVACTOR_OBJECTS "")
foreach(part IN LISTS VA_LIBVACTOR_PARTS)
  list(APPEND VA_LIBVACTOR_OBJECTS $<TARGET_OBJECTS:${part}>)
endforeach()
# Their objects go into a shared library too. (gcc on Debian compiles as
# PIE already; PIC differs only for symbols a .so could take from another.)
set_target_properties(${VA_LIBVACTOR_PARTS} PROPERTIES POSITION_INDEPENDENT_CODE ON)

# Every header of include/ is public, and only they are installed.
file(GLOB VA_PUBLIC_HEADERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/*.h)

# The .so exports what the public headers declare and nothing else: a
# version script made from them at build time (cmake/version_script.cmake).
set(VA_VERSION_SCRIPT ${PROJECT_BINARY_DIR}/vactor.map)
string(REPLACE ";" "|" va_headers_arg "${VA_PUBLIC_HEADERS}")
add_custom_command(
  OUTPUT ${VA_VERSION_SCRIPT}
  COMMAND ${CMAKE_COMMAND} "-DHEADERS=${va_headers_arg}" -DOUTPUT=${VA_VERSION_SCRIPT}
          -P ${PROJECT_SOURCE_DIR}/cmake/version_script.cmake
  DEPENDS ${VA_PUBLIC_HEADERS} ${PROJECT_SOURCE_DIR}/cmake/version_script.cmake
  COMMENT "Listing libvactor.so's exported symbols"
  VERBATIM)

add_library(vactor_shared SHARED ${VA_LIBVACTOR_OBJECTS} ${VA_VERSION_SCRIPT})
set_target_properties(vactor_shared PROPERTIES
  OUTPUT_NAME vactor
  EXPORT_NAME vactor
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}
  LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/lib
  LINK_DEPENDS ${VA_VERSION_SCRIPT})
target_link_options(vactor_shared PRIVATE -Wl,--version-script=${VA_VERSION_SCRIPT})
# Every symbol resolved at link time; clang's sanitizers (VA_FUZZ) leave
# their runtime's symbols to the program, so not there.
if(NOT (CMAKE_C_COMPILER_ID MATCHES "Clang" AND (VA_SANITIZE OR VA_FUZZ)))
  target_link_options(vactor_shared PRIVATE -Wl,--no-undefined)
endif()
target_include_directories(vactor_shared INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_link_libraries(vactor_shared PRIVATE
  PkgConfig::SQLITE PkgConfig::LIBPQ PkgConfig::XXHASH Threads::Threads)

add_library(vactor_static STATIC ${VA_LIBVACTOR_OBJECTS})
set_target_properties(vactor_static PROPERTIES
  OUTPUT_NAME vactor
  ARCHIVE_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/lib)
target_include_directories(vactor_static INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
# Installed, the package's config file adds SQLite, libpq and xxHash
# (cmake/vactorConfig.cmake.in), found on the user's machine.
target_link_libraries(vactor_static INTERFACE Threads::Threads
  $<BUILD_INTERFACE:PkgConfig::SQLITE PkgConfig::LIBPQ PkgConfig::XXHASH>)

install(TARGETS vactor_shared vactor_static EXPORT vactorTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${VA_PUBLIC_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS vactord RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/docs/vactord.1
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# The CMake package: vactor::vactor, vactor::vactor_static.
set(va_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/vactor)
install(EXPORT vactorTargets NAMESPACE vactor:: DESTINATION ${va_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/vactorConfig.cmake.in
  ${PROJECT_BINARY_DIR}/vactorConfig.cmake INSTALL_DESTINATION ${va_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/vactorConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/vactorConfig.cmake
  ${PROJECT_BINARY_DIR}/vactorConfigVersion.cmake DESTINATION ${va_cmake_dir})

# vactor.pc names the prefix installed to (cmake --install --prefix P may
# differ from the configured one), so it is written at install time.
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(va_pc_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    # \${prefix} once in the install script's text below.
    set(va_pc_${dir} "\\\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
install(CODE "
  set(VA_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(VA_PC_LIBDIR \"${va_pc_LIBDIR}\")
  set(VA_PC_INCLUDEDIR \"${va_pc_INCLUDEDIR}\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/cmake/vactor.pc.in\"
    \"${PROJECT_BINARY_DIR}/install/vactor.pc\" @ONLY)
")
install(FILES ${PROJECT_BINARY_DIR}/install/vactor.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
