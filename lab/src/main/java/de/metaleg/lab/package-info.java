/** The local lab: API server, network-namespace cluster and end-to-end tests. */
package de.metaleg.lab;
